#if canImport(Glibc)
import Glibc
#endif

/// A POSIX signal, by number, with the name operators write in configs and
/// on the command line ("TERM", "SIGTERM" and "term" all parse).
public struct UnixSignal: Hashable, Sendable, Codable, CustomStringConvertible {
    public let number: Int32

    public init(number: Int32) { self.number = number }

    /// Parses "TERM", "SIGTERM", "term" or a plain number such as "15".
    public init?(name: String) {
        var upper = name.uppercased()
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        if let known = UnixSignal.byName[upper] {
            self.number = known
        } else if let value = Int32(upper), value > 0, value < 65 {
            self.number = value
        } else {
            return nil
        }
    }

    /// "SIGTERM", or "signal 40" for numbers without a conventional name.
    public var description: String {
        if let name = UnixSignal.byNumber[number] { return "SIG" + name }
        return "signal \(number)"
    }

    /// The bare name ("TERM") for configs and protocol fields.
    public var name: String { UnixSignal.byNumber[number] ?? String(number) }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int32.self) {
            self.number = value
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = UnixSignal(name: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown signal '\(text)'")
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }

    public static let hangup = UnixSignal(number: SIGHUP)
    public static let interrupt = UnixSignal(number: SIGINT)
    public static let quit = UnixSignal(number: SIGQUIT)
    public static let abort = UnixSignal(number: SIGABRT)
    public static let kill = UnixSignal(number: SIGKILL)
    public static let terminate = UnixSignal(number: SIGTERM)
    public static let user1 = UnixSignal(number: SIGUSR1)
    public static let user2 = UnixSignal(number: SIGUSR2)
    public static let io = UnixSignal(number: SIGIO)
    public static let child = UnixSignal(number: SIGCHLD)

    private static let table: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM),
        ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN),
        ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM),
        ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]
    private static let byName: [String: Int32] = Dictionary(uniqueKeysWithValues: table)
    private static let byNumber: [Int32: String] = Dictionary(uniqueKeysWithValues: table.map { ($0.1, $0.0) })
}
