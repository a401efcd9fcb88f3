import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

extension ConfigLoader {
    /// Why a value was refused, worded to follow its field path.
    struct Refusal: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Turns one config value into a Swift value or refuses it. Every "must
    /// be X, got Y" check is a `Rule`, so the wording is the same for every
    /// field and each field's requirements read as one expression, like
    /// `.integer.atLeast(0)`.
    struct Rule<Output> {
        let apply: (Value) -> Result<Output, Refusal>

        /// Accepts the values `extract` can read and refuses the rest with
        /// "must be `expected`, got …".
        static func kind(_ expected: String, _ extract: @escaping (Value) -> Output?) -> Rule {
            Rule { value in
                extract(value).map { .success($0) } ?? .failure(Refusal("must be \(expected), got \(value.kindAndValue)"))
            }
        }

        /// A further conversion of an accepted value, which may refuse it.
        func then<Next>(_ step: @escaping (Output) -> Result<Next, Refusal>) -> Rule<Next> {
            Rule<Next> { value in apply(value).flatMap(step) }
        }

        /// A further condition on an accepted value.
        func checking(_ isValid: @escaping (Output) -> Bool, else message: @escaping (Output) -> String) -> Rule {
            then { isValid($0) ? .success($0) : .failure(Refusal(message($0))) }
        }
    }

    /// Numbers as they appear in messages: `2`, not `2.0`.
    protocol ReadableNumber: Comparable {
        var configText: String { get }
    }
}

extension Int: ConfigLoader.ReadableNumber {
    var configText: String { String(self) }
}

extension Double: ConfigLoader.ReadableNumber {
    /// Whole numbers without ".0" and JSON5's own spelling for infinities,
    /// so a message quotes the value the way the operator wrote it.
    var configText: String {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        if rounded() == self, abs(self) < 1e15 { return String(Int64(self)) }
        return description
    }
}

extension ConfigLoader.Rule where Output: ConfigLoader.ReadableNumber {
    func atLeast(_ minimum: Output) -> Self {
        checking({ $0 >= minimum }, else: { "must be \(minimum.configText) or more, got \($0.configText)" })
    }

    func atMost(_ maximum: Output) -> Self {
        checking({ $0 <= maximum }, else: { "must be \(maximum.configText) or less, got \($0.configText)" })
    }

    func greaterThan(_ minimum: Output) -> Self {
        checking({ $0 > minimum }, else: { "must be greater than \(minimum.configText), got \($0.configText)" })
    }
}

extension ConfigLoader.Rule where Output == Bool {
    static var boolean: Self {
        kind("a boolean") { if case .bool(let flag) = $0 { flag } else { nil } }
    }
}

extension ConfigLoader.Rule where Output == Int {
    /// A whole number. Beyond 2^53 a JSON number no longer holds an exact
    /// integer, so larger values are refused rather than silently rounded.
    static var integer: Self {
        kind("an integer") { value in
            guard case .number(let number) = value, number.rounded() == number, abs(number) <= 9_007_199_254_740_992 else {
                return nil
            }
            return Int(number)
        }
    }
}

extension ConfigLoader.Rule where Output == Int {
    /// A log's `maxBytes`: 0 (appd never rotates it) or at least
    /// `LogFileConfig.minimumMaxBytes`.
    static var rotationSize: Self {
        integer.checking({ $0 == 0 || $0 >= LogFileConfig.minimumMaxBytes }, else: {
            "must be 0 (never rotated) or at least \(LogFileConfig.minimumMaxBytes), got \($0)"
        }).atMost(1 << 40)
    }
}

extension ConfigLoader.Rule where Output == Double {
    /// A finite number; JSON5 also allows `Infinity` and `NaN`, which no
    /// timeout can mean.
    static var number: Self {
        kind("a number") { if case .number(let number) = $0 { number } else { nil } }
            .checking(\.isFinite, else: { "must be finite, got \($0.configText)" })
    }

    /// A duration: a number of seconds, more than zero and at most
    /// `GroupConfig.maximumSeconds`.
    static var seconds: Self { number.greaterThan(0).atMost(GroupConfig.maximumSeconds) }
}

extension ConfigLoader.Rule where Output == String {
    static var string: Self {
        kind("a string") { if case .string(let text) = $0 { text } else { nil } }
    }

    static var nonEmptyString: Self {
        string.checking({ !$0.isEmpty }, else: { _ in "must not be empty" })
    }

    /// A group name: safe in log prefixes, file names and `appctl`
    /// arguments. The character set already keeps out '/', white space and
    /// control characters; a leading '-' would read as an option on
    /// appctl's command line, and '..' as a parent directory in a path.
    static var groupName: Self {
        nonEmptyString.checking(
            { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) } },
            else: { "may contain only letters, digits, '_', '.' and '-', got '\($0)'" }
        )
        .checking({ !$0.hasPrefix("-") }, else: { "must not start with '-' (appctl would take it for an option), got '\($0)'" })
        .checking({ $0 != "." && !$0.contains("..") }, else: { "must not be '.' or contain '..' (it may become part of a file name), got '\($0)'" })
    }

    /// A file path, made absolute against `directory`.
    static func path(relativeTo directory: String) -> Self {
        nonEmptyString.then { .success(ConfigLoader.absolutePath($0, relativeTo: directory)) }
    }

    /// A path for a Unix socket, which must fit in `sockaddr_un` once resolved.
    static func socketPath(relativeTo directory: String) -> Self {
        path(relativeTo: directory).then { path in
            ConfigLoader.socketPathRefusal(path).map { .failure($0) } ?? .success(path)
        }
    }

    /// A path that must name an existing directory: a typo in `cwd` is
    /// caught here instead of as a crash loop of every process in the group.
    static func directory(relativeTo directory: String) -> Self {
        path(relativeTo: directory).checking(
            ConfigFileSystem.isDirectory,
            else: { "no such directory '\($0)'" }
        )
    }

    /// "-" for stderr, else a file path made absolute against `directory`.
    static func logFile(relativeTo directory: String) -> Self {
        nonEmptyString.then { .success($0 == "-" ? $0 : ConfigLoader.absolutePath($0, relativeTo: directory)) }
    }
}

extension ConfigLoader.Rule where Output == [ConfigLoader.Value] {
    /// An array; `expected` says of what ("an array of strings (argv, no shell)").
    static func array(_ expected: String, allowsEmpty: Bool = true) -> Self {
        kind(expected) { if case .array(let items) = $0 { items } else { nil } }
            .checking({ allowsEmpty || !$0.isEmpty }, else: { _ in "must not be empty" })
    }
}

extension ConfigLoader.Rule where Output == [String: ConfigLoader.Value] {
    static func object(_ expected: String) -> Self {
        kind(expected) { if case .object(let fields) = $0 { fields } else { nil } }
    }
}

extension ConfigLoader.Rule where Output: RawRepresentable & CaseIterable, Output.RawValue == String {
    /// One of an enumeration's spellings, listed in the refusal.
    static func oneOf(_ type: Output.Type) -> Self {
        let spellings = Output.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        return ConfigLoader.Rule<String>.kind(spellings) { if case .string(let text) = $0 { text } else { nil } }
            .then { text in
                Output(rawValue: text).map { .success($0) }
                    ?? .failure(ConfigLoader.Refusal("must be \(spellings), got \"\(text)\""))
            }
    }
}

extension ConfigLoader.Rule where Output == UInt32 {
    /// `"0660"` or `"660"`: octal digits in a string (a JSON number 0660 would
    /// be read as decimal 660), permission bits only. `example` is what the
    /// refusal suggests: `"0660"` for a socket, `"0027"` for a umask.
    static func octalMode(example: String) -> Self {
        ConfigLoader.Rule<String>.kind("an octal mode in a string, such as \"\(example)\"") { value in
            if case .string(let text) = value { return text }
            return nil
        }
        .then { text in
            guard (1...4).contains(text.count), text.allSatisfy({ ("0"..."7").contains($0) }), let mode = UInt32(text, radix: 8),
                  mode <= 0o777
            else {
                return .failure(ConfigLoader.Refusal("must be an octal mode from \"0000\" to \"0777\", such as \"\(example)\", got \"\(text)\""))
            }
            return .success(mode)
        }
    }
}

extension ConfigLoader.Rule where Output == UnixSignal {
    /// A signal by name ("TERM", "SIGTERM") or number (15).
    static var signal: Self {
        ConfigLoader.Rule<String>.kind("a signal name such as \"TERM\"") { value in
            switch value {
            case .string(let name): return name
            case .number(let number) where number.rounded() == number: return number.configText
            default: return nil
            }
        }
        .then { name in UnixSignal(name: name).map { .success($0) } ?? .failure(ConfigLoader.Refusal("unknown signal '\(name)'")) }
    }
}

extension ConfigLoader.Rule where Output == ListenAddress {
    /// `tcp://HOST:PORT`, `tcp://[IPV6]:PORT` or `unix:PATH`, with a relative
    /// Unix path made absolute against `directory`.
    static func listenAddress(relativeTo directory: String) -> Self {
        ConfigLoader.Rule<String>.string.then { ConfigLoader.parseListenAddress($0, relativeTo: directory) }
    }
}

extension ConfigLoader {
    /// Hosts are numeric (IPv4, or IPv6 in brackets): the master binds before
    /// any worker runs and should not depend on name resolution to do so.
    static func parseListenAddress(_ text: String, relativeTo directory: String) -> Result<ListenAddress, Refusal> {
        func invalid(_ reason: String) -> Result<ListenAddress, Refusal> {
            .failure(Refusal("invalid listen address '\(text)': \(reason)"))
        }
        if text.hasPrefix("unix:") {
            let written = String(text.dropFirst("unix:".count))
            guard !written.isEmpty else { return invalid("the socket path is empty") }
            let path = absolutePath(written, relativeTo: directory)
            if let refusal = socketPathRefusal(path) { return invalid(refusal.message) }
            return .success(.unix(path: path))
        }
        guard text.hasPrefix("tcp://") else { return invalid("expected tcp://HOST:PORT or unix:PATH") }
        let hostAndPort = text.dropFirst("tcp://".count)
        guard let colon = hostAndPort.lastIndex(of: ":") else { return invalid("expected tcp://HOST:PORT") }
        let portText = hostAndPort[hostAndPort.index(after: colon)...]
        guard let port = UInt16(portText), port > 0, portText.allSatisfy(\.isNumber) else {
            return invalid("port must be 1-65535, got '\(portText)'")
        }
        let host = hostAndPort[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") {
            let ipv6 = String(host.dropFirst().dropLast())
            var address = in6_addr()
            guard inet_pton(AF_INET6, ipv6, &address) == 1 else { return invalid("'\(ipv6)' is not an IPv6 address") }
            return .success(.tcp(host: ipv6, port: port))
        }
        var address = in_addr()
        guard inet_pton(AF_INET, String(host), &address) == 1 else {
            return invalid("host must be an IPv4 address or an IPv6 address in brackets, got '\(host)'")
        }
        return .success(.tcp(host: String(host), port: port))
    }

    /// A Unix socket path longer than `sun_path` cannot be bound; the kernel
    /// would say only "invalid argument", so say why here.
    static func socketPathRefusal(_ path: String) -> Refusal? {
        let limit = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
        let length = path.utf8.count
        guard length > limit else { return nil }
        return Refusal("socket path '\(path)' is \(length) bytes; Unix sockets allow at most \(limit)")
    }
}
