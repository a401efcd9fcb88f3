import Glibc

/// Somewhere `appctl` writes text: a file descriptor, or a string in tests.
protocol TextSink: AnyObject {
    func write(_ text: String)
}

/// Standard output and standard error, kept apart so that `--json` output
/// stays clean to pipe while messages go to the terminal.
struct Console {
    let out: any TextSink
    let err: any TextSink

    static var standard: Console { Console(out: FileDescriptorSink(fd: STDOUT_FILENO), err: FileDescriptorSink(fd: STDERR_FILENO)) }

    /// Whether stdout is a terminal, where tables may be redrawn in place.
    var outIsTerminal: Bool { (out as? FileDescriptorSink).map { isatty($0.fd) == 1 } ?? false }
}

/// Writes each text with as few `write(2)` calls as it takes, unbuffered:
/// a streamed line (`logs --follow | grep`) shows up at once, and a redrawn
/// frame arrives whole, which is what keeps `status --watch` from flickering.
final class FileDescriptorSink: TextSink {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
