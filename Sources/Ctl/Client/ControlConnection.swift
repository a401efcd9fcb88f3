import CSystem
import Glibc
import Shared

/// A connection to the daemon's control socket: write requests, read reply
/// lines. `appctl` sends one request and reads until its final line.
///
/// Nothing here trusts the other end more than it must (docs/SECURITY.md):
/// - the socket file is checked before connecting (`lstat`, so a symlink is
///   not followed): it must be a socket owned by root or by appctl's own
///   user, and the process that accepted must run as one of those two
///   (SO_PEERCRED, which closes the gap between the check and `connect`);
/// - waiting is bounded (`Patience`): a daemon that accepts and never
///   answers makes appctl give up, not hang;
/// - one reply line may hold at most `replyLineLimit` bytes, and the lines
///   appctl keeps before it can print anything at most `bufferLimit`.
final class ControlConnection {
    /// How long appctl waits for the daemon (`--timeout`), seconds.
    static let defaultTimeout = 10.0
    /// 4 MiB: four times the protocol's request limit, ample for one status
    /// item with a large APPSTATS object.
    static let replyLineLimit = 4 << 20
    /// 64 MiB of reply lines held before printing (a status snapshot, the
    /// connections table, `reload --json`): some 100,000 processes.
    static let defaultBufferLimit = 64 << 20

    /// How waiting for the daemon is bounded.
    enum Patience: Equatable {
        /// A command that ends with one answer: at most `timeout` seconds of
        /// waiting for the daemon in all, the connect included (time appctl
        /// spends blocked writing its own output does not count).
        case total
        /// A stream that may rightly be quiet for long (`status --watch`,
        /// `logs --follow`, a reload, a group's stop): after `timeout`
        /// seconds without a reply line, appctl sends a `ping` on the same
        /// connection; a daemon that sends nothing for `timeout` seconds more
        /// has stopped answering.
        case keepAlive
    }

    let path: String
    let timeout: Double
    var patience = Patience.total
    /// Bytes of reply lines read since the last `released()`; more is an error.
    var bufferLimit = ControlConnection.defaultBufferLimit

    private let fd: Int32
    private var framer = LineFramer(maxLineLength: ControlConnection.replyLineLimit)
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// Seconds spent waiting for the daemon so far (`.total`).
    private var waited = 0.0
    /// When the last reply line arrived (`.keepAlive`), monotonic seconds.
    private var lastLine: Double
    /// When the unanswered keep-alive ping went out, if one did.
    private var probeSent: Double?
    /// Keep-alive pings use ids from here up, apart from the command's.
    private var nextProbeID = 1_000_001
    private var buffered = 0

    init(path: String, timeout: Double = ControlConnection.defaultTimeout) throws(TransportError) {
        self.path = path
        self.timeout = timeout
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < capacity else { throw .pathTooLong(path: path, limit: capacity - 1) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes + [0]) }
        try Self.checkSocketFile(path)

        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotConnect(path: path, errno: errno) }
        let started = Self.now()
        lastLine = started
        // A unix stream connect waits while the daemon's backlog is full, and
        // a send while its buffer is: SO_SNDTIMEO bounds both (EAGAIN).
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        let failure = errno
        waited = Self.now() - started
        if connected != 0 {
            close(fd)
            if failure == EAGAIN || failure == EWOULDBLOCK { throw .timedOut(path: path, seconds: timeout, keepAlive: false) }
            throw .cannotConnect(path: path, errno: failure)
        }
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        guard cs_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
            let failure = errno
            close(fd)
            throw .cannotConnect(path: path, errno: failure)
        }
        guard uid == 0 || uid == geteuid() else {
            close(fd)
            throw .foreignPeer(path: path, uid: uid)
        }
    }

    deinit { close(fd) }

    /// The socket file itself (not what a symlink points to) must be a
    /// socket owned by root or by us; ENOENT and the like are left to
    /// `connect` to report.
    static func checkSocketFile(_ path: String) throws(TransportError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw .cannotConnect(path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(path: path, kind: kind(of: info.st_mode)) }
        guard info.st_uid == 0 || info.st_uid == geteuid() else { throw .foreignOwner(path: path, uid: info.st_uid) }
    }

    func send(_ request: ControlRequest) throws(TransportError) {
        let line = request.encodedLine()
        var offset = 0
        while offset < line.count {
            // MSG_NOSIGNAL: a daemon that went away is an error to report, not a SIGPIPE.
            let written = line[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(path: path, seconds: timeout, keepAlive: false) }
                throw .broken(path: path, errno: errno)
            }
            offset += written
        }
    }

    /// The reply lines read so far have been printed: they no longer count
    /// against `bufferLimit`.
    func released() {
        buffered = 0
    }

    /// The next reply line, whatever its id; nil when the daemon closed the
    /// connection at a line boundary. A line `takeLine` takes (returns true
    /// for) is not decoded: the caller used its bytes as they came.
    func nextReply(takingLines takeLine: (UnsafeBufferPointer<UInt8>) -> Bool = { _ in false }) throws(TransportError) -> ControlReply? {
        while true {
            let line: [UInt8]?
            do {
                line = try framer.nextLine()
            } catch {
                throw .replyTooLong(path: path, limit: error.limit)
            }
            if let line {
                lastLine = Self.now()
                probeSent = nil
                buffered += line.count
                if buffered > bufferLimit { throw .tooMuchToHold(path: path, limit: bufferLimit) }
                if line.withUnsafeBufferPointer(takeLine) { continue }
                do {
                    return try ControlReply(line: line)
                } catch {
                    throw .malformed(path: path, error)
                }
            }
            let wait = try secondsToWait()
            guard wait > 0 else { continue }
            var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let started = Self.now()
            let ready = poll(&pollfd, 1, Int32(min(wait * 1000, Double(Int32.max)).rounded(.up)))
            if patience == .total { waited += Self.now() - started }
            if ready < 0 {
                if errno == EINTR { continue }
                throw .broken(path: path, errno: errno)
            }
            if ready == 0 { continue }
            let count = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .broken(path: path, errno: errno)
            }
            if count == 0 { return nil }
            framer.append(readBuffer[..<count])
        }
    }

    /// How long the next wait for a reply line may be; 0 after sending a
    /// keep-alive ping (look again). Throws when patience has run out.
    private func secondsToWait() throws(TransportError) -> Double {
        switch patience {
        case .total:
            let left = timeout - waited
            if left <= 0 { throw .timedOut(path: path, seconds: timeout, keepAlive: false) }
            return left
        case .keepAlive:
            let now = Self.now()
            if let probeSent {
                let left = probeSent + timeout - now
                if left <= 0 { throw .timedOut(path: path, seconds: timeout, keepAlive: true) }
                return left
            }
            let left = lastLine + timeout - now
            if left > 0 { return left }
            try send(ControlRequest(id: nextProbeID, command: .ping))
            nextProbeID += 1
            probeSent = now
            return 0
        }
    }

    /// Reads the replies to request `id`: items go to `onItem` as they
    /// arrive, and the final line's outcome is returned. Lines of other ids
    /// (the answers to keep-alive pings) are skipped, and so are lines
    /// `takeLine` takes (`nextReply(takingLines:)`).
    func outcome(
        of id: Int, takingLines takeLine: (UnsafeBufferPointer<UInt8>) -> Bool = { _ in false }, onItem: (ControlItem) -> Void
    ) throws(TransportError) -> Result<ControlResult, ProtocolError> {
        while let reply = try nextReply(takingLines: takeLine) {
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

    static func now() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: "a symlink; appctl does not follow one to the daemon's socket"
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        default: "not a socket"
        }
    }
}

/// Why the conversation with the daemon failed (exit status 3).
enum TransportError: Error, Equatable, CustomStringConvertible {
    case cannotConnect(path: String, errno: Int32)
    case pathTooLong(path: String, limit: Int)
    /// The file at the path is not a socket (`kind` says what it is).
    case notASocket(path: String, kind: String)
    /// The socket file belongs to someone other than root or us.
    case foreignOwner(path: String, uid: UInt32)
    /// The process that accepted runs as someone other than root or us.
    case foreignPeer(path: String, uid: UInt32)
    /// No answer within `--timeout`; `keepAlive`: a stream went quiet and
    /// a ping on it went unanswered too.
    case timedOut(path: String, seconds: Double, keepAlive: Bool)
    /// The daemon closed the connection before the final reply line.
    case closed(path: String)
    case broken(path: String, errno: Int32)
    case replyTooLong(path: String, limit: Int)
    /// More reply lines than appctl holds before printing.
    case tooMuchToHold(path: String, limit: Int)
    case malformed(path: String, MalformedReply)

    var description: String {
        switch self {
        case .cannotConnect(let path, let code):
            return "cannot reach appd at \(path): \(Self.connectReason(code))"
        case .pathTooLong(let path, let limit):
            return "cannot reach appd at \(path): the path is longer than the \(limit) bytes a unix socket address holds"
        case .notASocket(let path, let kind):
            return "cannot reach appd: \(path) is not a socket (it is \(kind))"
        case .foreignOwner(let path, let uid):
            return "cannot reach appd: \(path) is owned by uid \(uid), not by you or root; "
                + "appctl talks only to a socket of its own user or root (another user may have put this one there)"
        case .foreignPeer(let path, let uid):
            return "cannot reach appd: the process listening at \(path) runs as uid \(uid), not as you or root; appctl does not talk to it"
        case .timedOut(let path, let seconds, let keepAlive):
            let limit = HumanFormat.duration(seconds: seconds)
            if keepAlive {
                return "appd at \(path) stopped answering: nothing for \(limit), and no answer to a ping for \(limit) more (--timeout)"
            }
            return "appd at \(path) did not answer within \(limit) (--timeout)"
        case .closed(let path):
            return "appd at \(path) closed the connection before answering (did it stop?)"
        case .broken(let path, let code):
            return "lost the connection to appd at \(path): \(String(cString: strerror(code)))"
        case .replyTooLong(let path, let limit):
            return "appd at \(path) sent a reply line longer than \(HumanFormat.bytes(UInt64(limit))); appctl stops reading there"
        case .tooMuchToHold(let path, let limit):
            return "appd at \(path) sent more than \(HumanFormat.bytes(UInt64(limit))) for one answer; appctl stops reading there"
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
