import Glibc
import Shared

/// A blocking connection to the daemon's control socket: write requests,
/// read reply lines. `appctl` sends one request and reads until its final
/// line, so plain blocking calls are all it needs.
final class ControlConnection {
    let path: String
    private let fd: Int32
    private var framer = LineFramer()
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(path: String) throws(TransportError) {
        self.path = path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < capacity else { throw .pathTooLong(path: path, limit: capacity - 1) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes + [0]) }

        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotConnect(path: path, errno: errno) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected != 0 {
            let failure = errno
            close(fd)
            throw .cannotConnect(path: path, errno: failure)
        }
    }

    deinit { close(fd) }

    func send(_ request: ControlRequest) throws(TransportError) {
        let line = request.encodedLine()
        var offset = 0
        while offset < line.count {
            // MSG_NOSIGNAL: a daemon that went away is an error to report, not a SIGPIPE.
            let written = line[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .broken(path: path, errno: errno)
            }
            offset += written
        }
    }

    /// The next reply line, whatever its id; nil when the daemon closed the
    /// connection at a line boundary.
    func nextReply() throws(TransportError) -> ControlReply? {
        while true {
            let line: [UInt8]?
            do {
                line = try framer.nextLine()
            } catch {
                throw .replyTooLong(path: path, limit: error.limit)
            }
            if let line {
                do {
                    return try ControlReply(line: line)
                } catch {
                    throw .malformed(path: path, error)
                }
            }
            let count = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .broken(path: path, errno: errno)
            }
            if count == 0 { return nil }
            framer.append(readBuffer[..<count])
        }
    }

    /// Reads the replies to request `id`: items go to `onItem` as they
    /// arrive, and the final line's outcome is returned. Lines of other ids
    /// are skipped (appctl sends one request, but a connection may carry more).
    func outcome(of id: Int, onItem: (ControlItem) -> Void) throws(TransportError) -> Result<ControlResult, ProtocolError> {
        while let reply = try nextReply() {
            switch reply {
            case .item(let itemID, let item):
                if itemID == id { onItem(item) }
            case .done(let doneID, let result):
                if doneID == id { return .success(result) }
            case .error(let errorID, let error):
                // An id-less error answers a line the daemon could not read: ours.
                if errorID == id || errorID == nil { return .failure(error) }
            }
        }
        throw .closed(path: path)
    }
}

/// Why the conversation with the daemon failed (exit status 3).
enum TransportError: Error, Equatable, CustomStringConvertible {
    case cannotConnect(path: String, errno: Int32)
    case pathTooLong(path: String, limit: Int)
    /// The daemon closed the connection before the final reply line.
    case closed(path: String)
    case broken(path: String, errno: Int32)
    case replyTooLong(path: String, limit: Int)
    case malformed(path: String, MalformedReply)

    var description: String {
        switch self {
        case .cannotConnect(let path, let code):
            return "cannot reach appd at \(path): \(Self.connectReason(code))"
        case .pathTooLong(let path, let limit):
            return "cannot reach appd at \(path): the path is longer than the \(limit) bytes a unix socket address holds"
        case .closed(let path):
            return "appd at \(path) closed the connection before answering (did it stop?)"
        case .broken(let path, let code):
            return "lost the connection to appd at \(path): \(String(cString: strerror(code)))"
        case .replyTooLong(let path, let limit):
            return "appd at \(path) sent a reply line longer than \(limit) bytes"
        case .malformed(let path, let error):
            return "appd at \(path) sent a reply appctl cannot read (\(error.reason)): \(error.line)"
        }
    }

    /// What a failed connect means to an operator, with the likely cause.
    private static func connectReason(_ code: Int32) -> String {
        switch code {
        case ENOENT, ENOTDIR: return "no such file (is appd running?)"
        case ECONNREFUSED: return "connection refused (stale socket?)"
        case EACCES, EPERM: return "permission denied"
        case ENOTSOCK: return "not a socket"
        default: return String(cString: strerror(code)).lowercased()
        }
    }
}
