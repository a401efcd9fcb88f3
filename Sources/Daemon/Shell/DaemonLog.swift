import Glibc

/// The daemon's log: one line per event, written straight to stderr or the
/// log file with `write(2)`, so a line is never lost in a buffer when the
/// master exits or is killed.
///
/// Format: `2026-11-27T12:14:05.123Z appd[4700] info: message`. Captured
/// child output uses the worker's label instead of `appd[pid]`. Debug lines
/// (e.g. a worker's notification that came after it exited) are written
/// only with `appd --verbose`.
final class DaemonLog {
    private var fd: Int32
    private let ownsDescriptor: Bool
    let verbose: Bool

    /// `path` "-" means stderr.
    init(path: String, verbose: Bool = false) throws(SystemError) {
        self.verbose = verbose
        if path == "-" {
            fd = STDERR_FILENO
            ownsDescriptor = false
        } else {
            fd = try RuntimeDirectory.openForAppending(path)
            ownsDescriptor = true
        }
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    func write(_ record: LogRecord) {
        write(source: "appd[\(getpid())]", level: record.level.rawValue, record.message)
    }

    func info(_ message: String) { write(LogRecord(level: .info, message: message)) }
    func warning(_ message: String) { write(LogRecord(level: .warning, message: message)) }
    func error(_ message: String) { write(LogRecord(level: .error, message: message)) }

    /// Written only when verbose; the message is not even built otherwise.
    func debug(_ message: @autoclosure () -> String) {
        if verbose { write(source: "appd[\(getpid())]", level: "debug", message()) }
    }

    /// One line of a child's output, labelled with group, id and pid.
    func childLine(_ label: String, stream: String, _ line: String) {
        write(source: label, level: stream, line)
    }

    private func write(source: String, level: String, _ message: String) {
        var line = Self.timestamp() + " " + source + " " + level + ": " + message
        line.append("\n")
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return  // Nowhere left to report a failing log.
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// UTC with milliseconds, without Foundation's date formatter.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + pad(Int32(now.tv_nsec / 1_000_000), 3) + "Z"
    }
}
