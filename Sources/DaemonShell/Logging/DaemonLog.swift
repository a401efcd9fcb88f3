import SupervisorCore
import Glibc

/// The daemon's log: one line per event, to stderr or the log file, through
/// a `LogSink` so that a reader that stops reading never blocks supervision.
///
/// Format: `2026-11-27T12:14:05.123Z appd[4700] info: message`. Captured
/// child output uses the worker's label instead of `appd[pid]`. Debug lines
/// (e.g. a worker's notification that came after it exited) are written
/// only with `appd --verbose`.
final class DaemonLog {
    private let sink: LogSink
    let verbose: Bool

    /// `path` "-" means stderr. The file stays open for the daemon's life.
    init(path: String, verbose: Bool = false) throws(SystemError) {
        self.verbose = verbose
        if path == "-" {
            sink = LogSink(fd: STDERR_FILENO, destination: "stderr")
        } else {
            let fd = try RuntimeDirectory.openForAppending(path)
            sink = LogSink(fd: fd, destination: path)
        }
    }

    /// Lines dropped because the log's destination was not taking them (`LogSink`).
    var droppedLines: Int { sink.droppedLinesTotal }

    /// At exit: what is queued is written, within `timeout` seconds.
    func finish(timeout: Double = 2) { sink.finish(timeout: timeout) }

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
        sink.write(Array((LogLineFormat.timestamp() + " " + source + " " + level + ": " + message + "\n").utf8))
    }
}

/// The pieces of a log line that the log and its sink share.
enum LogLineFormat {
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
