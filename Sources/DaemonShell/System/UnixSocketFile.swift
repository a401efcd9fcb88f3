import Glibc

/// A `sockaddr_un` for a filesystem path or, written "@name", a name in
/// Linux's abstract namespace (no file, gone with the last socket).
struct UnixSocketAddress {
    /// The longest path a socket can be bound at: sun_path less its NUL.
    static let maximumPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    private var storage = sockaddr_un()
    private let length: socklen_t
    let isAbstract: Bool

    init(_ path: String) throws(SystemError) {
        var bytes = Array(path.utf8)
        isAbstract = bytes.first == UInt8(ascii: "@")
        if isAbstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw SystemError(call: "unix socket address \(path)", errno: bytes.isEmpty ? EINVAL : ENAMETOOLONG)
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        // A path's length counts its NUL; an abstract name is exactly its bytes.
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (isAbstract ? 0 : 1))
    }

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// Binding unix sockets at paths that may hold a previous run's socket file.
enum UnixSocketFile {
    /// Binds a new close-on-exec socket of `type` at `path`.
    ///
    /// A socket file already there is replaced only when it is stale
    /// (connect is refused: its owner died without unlinking it); a live one
    /// throws EADDRINUSE and is left alone, and a file that is not a socket
    /// throws EEXIST. `privateMode` binds under umask 0177 so the file is
    /// 0600 from birth, with no window in which others may connect.
    /// `name` is how errors refer to it, e.g. `bind(unix:/run/web.sock)`.
    static func bind(path: String, type: __socket_type, privateMode: Bool, name: String) throws(SystemError) -> Int32 {
        let address = try UnixSocketAddress(path)
        if !address.isAbstract { try removeStaleSocket(at: path, type: type, name: name) }
        return try newSocket(domain: AF_UNIX, type: type, name: name) { fd throws(SystemError) in
            let previousMask = privateMode ? umask(0o177) : nil
            let result = address.withSockaddr { Glibc.bind(fd, $0, $1) }
            let bindErrno = errno
            if let previousMask { umask(previousMask) }
            if result != 0 { throw SystemError(call: name, errno: bindErrno) }
        }
    }

    /// Unlinks a stale socket file at `path`; a live socket throws
    /// EADDRINUSE, a file that is not a socket EEXIST.
    static func removeStaleSocket(at path: String, type: __socket_type, name: String) throws(SystemError) {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw SystemError.last("lstat(\(path))")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemError(call: name, errno: EEXIST, reason: "\(path) exists and is not a socket")
        }
        let probe = try newSocket(domain: AF_UNIX, type: type, name: "socket(AF_UNIX)") { _ throws(SystemError) in }
        defer { close(probe) }
        let connected = try UnixSocketAddress(path).withSockaddr { connect(probe, $0, $1) } == 0
        if connected { throw SystemError(call: name, errno: EADDRINUSE) }
        guard errno == ECONNREFUSED else { throw SystemError.last("connect(\(path))") }
        if unlink(path) != 0 && errno != ENOENT { throw SystemError.last("unlink(\(path))") }
    }
}

/// Creates a close-on-exec socket and runs `setup` on it, closing it again
/// if setup throws, so a failed bind leaks no fd.
func newSocket(
    domain: Int32, type: __socket_type, name: String, setup: (Int32) throws(SystemError) -> Void
) throws(SystemError) -> Int32 {
    let fd = try checked(name, socket(domain, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
    do throws(SystemError) {
        try setup(fd)
    } catch {
        close(fd)
        throw error
    }
    return fd
}
