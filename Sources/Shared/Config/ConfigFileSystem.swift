#if canImport(Glibc)
import Glibc
#endif

/// The few file-system questions config loading asks, answered with plain
/// system calls: Foundation's file APIs would pull its whole
/// internationalisation stack into both binaries, and they blur the OS's
/// reason for a failure ("No such file or directory") behind their own.
enum ConfigFileSystem {
    /// The whole file, or the OS's reason it could not be read.
    static func contents(of path: String) -> Result<[UInt8], ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(errno: errno)) }
        defer { close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(errno: errno))
            }
            if count == 0 { return .success(contents) }
            contents += chunk[..<count]
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
        var errno: Int32
        /// strerror's text: "No such file or directory".
        var reason: String {
            guard let text = strerror(errno) else { return "error \(errno)" }
            return String(cString: text)
        }
    }
}
