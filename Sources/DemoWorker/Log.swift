import Glibc

/// Line logging straight to fds 1 and 2 with write(2). The master captures
/// stdout/stderr through pipes, where stdio would buffer whole blocks: a line
/// must reach the master the moment it is written, and must not be lost when
/// the worker exits with `exit` or dies to SIGKILL.
enum Log {
    static func out(_ line: String) { writeLine(line, to: STDOUT_FILENO) }

    static func err(_ line: String) { writeLine(line, to: STDERR_FILENO) }

    private static func writeLine(_ line: String, to fd: Int32) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result > 0 {
                written += result
            } else if result < 0 && errno == EINTR {
                continue
            } else {
                return  // nowhere to log to; the worker carries on regardless
            }
        }
    }
}
