/// Where a config that cannot be used still says the control socket is, so
/// that a broken config does not lock `appctl` out of the daemon that is
/// still running on the previous, good one: `appctl reload` must be able to
/// tell that daemon to read the (now fixed) file, and `appctl status` to
/// show it.
public enum SalvagedSocket: Equatable, Sendable {
    /// The file is valid JSON5 and sets `controlSocket` (other parts are wrong).
    case parsed(String)
    /// The file is not valid JSON5; a scan found a `controlSocket: "..."` entry.
    case scanned(String)
    /// No `controlSocket` could be found: the daemon would use its default.
    case notFound

    /// The absolute socket path found; nil for `notFound`.
    public var path: String? {
        switch self {
        case .parsed(let path), .scanned(let path): return path
        case .notFound: return nil
        }
    }
}

extension ConfigLoader {
    /// The control socket the config at `path` names, found however broken
    /// the rest of it is; nil when the file cannot be read at all.
    public static func salvageControlSocket(fromConfigAt path: String) -> SalvagedSocket? {
        let file = absolutePath(path, relativeTo: ConfigFileSystem.currentDirectory())
        guard case .success(let bytes) = ConfigFileSystem.contents(of: file, limit: JSON5Parser.maximumBytes) else { return nil }
        return salvageControlSocket(from: bytes, sourcePath: file)
    }

    /// `salvageControlSocket(fromConfigAt:)` on bytes read from `sourcePath`.
    /// The file is parsed as JSON5 first; only if that fails is the text
    /// scanned, skipping comments and strings, for the first key
    /// `controlSocket` followed by `:` and a quoted string (preferring one
    /// in the outermost object). A relative path is taken relative to the
    /// config file, as the daemon takes it.
    public static func salvageControlSocket(from bytes: [UInt8], sourcePath: String) -> SalvagedSocket {
        let file = absolutePath(sourcePath, relativeTo: ConfigFileSystem.currentDirectory())
        let directory = absolutePath("..", relativeTo: file)
        switch JSON5Parser.parse(bytes) {
        case .success(.object(let fields)):
            guard case .string(let socket)? = fields["controlSocket"], !socket.isEmpty else { return .notFound }
            return .parsed(absolutePath(socket, relativeTo: directory))
        case .success:
            return .notFound
        case .failure:
            guard let socket = scanForControlSocket(bytes), !socket.isEmpty else { return .notFound }
            return .scanned(absolutePath(socket, relativeTo: directory))
        }
    }

    /// The value of the first `controlSocket: "..."` in text that need not
    /// parse: comments are skipped (a commented-out entry does not count),
    /// a string ends at its quote or at the end of its line, and nesting is
    /// tracked only to prefer an entry of the outermost object.
    static func scanForControlSocket(_ bytes: [UInt8]) -> String? {
        let text = Array(String(decoding: bytes.prefix(JSON5Parser.maximumBytes), as: UTF8.self).unicodeScalars)
        enum Token: Equatable {
            case key(String, depth: Int)
            case colon
            case other
        }
        var previous: [Token] = []  // the last two tokens
        var outermost: String?
        var anywhere: String?
        var depth = 0
        var index = 0
        func at(_ offset: Int) -> Unicode.Scalar? { offset < text.count ? text[offset] : nil }
        func remember(_ token: Token) {
            previous.append(token)
            if previous.count > 2 { previous.removeFirst() }
        }
        while index < text.count, outermost == nil {
            let scalar = text[index]
            switch scalar {
            case "/" where at(index + 1) == "/":
                while index < text.count, !JSON5Parser.isLineTerminator(text[index]) { index += 1 }
            case "/" where at(index + 1) == "*":
                index += 2
                while index < text.count, !(text[index] == "*" && at(index + 1) == "/") { index += 1 }
                index += 2
            case "\"", "'":
                index += 1
                var value = String.UnicodeScalarView()
                while let next = at(index), next != scalar, next != "\n", next != "\r" {
                    if next == "\\", let escaped = at(index + 1) {
                        switch escaped {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        default: value.append(escaped)
                        }
                        index += 2
                    } else {
                        value.append(next)
                        index += 1
                    }
                }
                index += 1
                let string = String(value)
                if previous.count == 2, case .key("controlSocket", let keyDepth) = previous[0], previous[1] == .colon {
                    if keyDepth == 1 { outermost = string } else if anywhere == nil { anywhere = string }
                }
                remember(.key(string, depth: depth))
            case ":":
                index += 1
                remember(.colon)
            case "{", "[":
                depth += 1
                index += 1
                remember(.other)
            case "}", "]":
                depth = max(0, depth - 1)
                index += 1
                remember(.other)
            default:
                if JSON5Parser.isIdentifierStart(scalar) {
                    var word = String.UnicodeScalarView()
                    while let next = at(index), JSON5Parser.isIdentifierPart(next) {
                        word.append(next)
                        index += 1
                    }
                    remember(.key(String(word), depth: depth))
                } else {
                    index += 1
                    if !JSON5Parser.isSpace(scalar) { remember(.other) }
                }
            }
        }
        return outermost ?? anywhere
    }
}
