#if canImport(Glibc)
import Glibc
#endif

/// The few file-system questions config loading asks, answered with plain
/// system calls: Foundation's file APIs would pull its whole
/// internationalisation stack into both binaries, and they blur the OS's
/// reason for a failure ("No such file or directory") behind their own.
enum ConfigFileSystem {
    /// The whole file, or the OS's reason it could not be read. Only a
    /// regular file is read: the daemon re-reads its config on SIGHUP, and
    /// a FIFO or a device at that path would block the open or the read, and
    /// with it all supervision. So the open does not block (O_NONBLOCK) and
    /// anything but a regular file is refused before a byte is read. At most
    /// `limit` bytes are read (for a config, one more than the parser takes,
    /// so that it can say the file is too large), so a file that is huge or
    /// grows while it is read cannot take the memory either.
    static func contents(of path: String, limit: Int = .max) -> Result<[UInt8], ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return .failure(ReadFailure(errno: errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failure(ReadFailure(errno: errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .failure(ReadFailure(errno: EISDIR))
        case S_IFIFO: return .failure(ReadFailure(reason: "not a regular file (a FIFO)"))
        default: return .failure(ReadFailure(reason: "not a regular file"))
        }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(errno: errno))
            }
            if count == 0 { return .success(contents) }
            contents += chunk[..<min(count, limit - contents.count)]
            if contents.count >= limit { return .success(contents) }
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    struct ReadFailure: Error {
        /// strerror's text ("No such file or directory"), or appd's own reason.
        var reason: String
        /// Nothing is at the path (ENOENT): what an optional file may be.
        var isMissing = false

        init(errno: Int32) {
            reason = strerror(errno).map { String(cString: $0) } ?? "error \(errno)"
            isMissing = errno == ENOENT
        }

        init(reason: String) { self.reason = reason }
    }
}
