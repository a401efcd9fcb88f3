import Shared
import SupervisorCore

/// The daemon's log: one line per event, to stderr or the log file
/// (rotated as `logFile` says), through a `LogFeed` and its `LogSink`, so
/// that a reader that stops reading never blocks supervision.
///
/// Format (`text`): `2026-11-27T12:14:05.123Z appd[4700] info: message`.
/// Output of workers whose group has no log file of its own is written here
/// too, labelled with the worker (`GroupLogs`). Debug lines (e.g. a
/// worker's notification that came after it exited) are written only with
/// `appd --verbose`.
final class DaemonLog {
    let feed: LogFeed
    let verbose: Bool

    /// The log stays open for the daemon's life. `carriesStandardStreams`:
    /// a daemonized appd's stdout and stderr are this file (`Daemonizer`).
    init(config: LogFileConfig, verbose: Bool = false, carriesStandardStreams: Bool = false) throws(SystemError) {
        self.verbose = verbose
        feed = try LogFeed.open(config, carriesStandardStreams: carriesStandardStreams)
    }

    /// Lines dropped because the log's destination was not taking them (`LogSink`).
    var droppedLines: Int { feed.sink.droppedLinesTotal }

    /// At exit: what is queued is written, within `timeout` seconds.
    func finish(timeout: Double = 2) { feed.finish(timeout: timeout) }

    func write(_ record: LogRecord, at stamp: LogStamp = .now()) {
        write(level: record.level.rawValue, record.text, worker: record.worker.map { ($0, record.pid) }, at: stamp)
    }

    func info(_ message: String) { write(level: "info", message) }
    func warning(_ message: String) { write(level: "warning", message) }
    func error(_ message: String) { write(level: "error", message) }

    /// Written only when verbose; the message is not even built otherwise.
    func debug(_ message: @autoclosure () -> String) {
        if verbose { write(level: "debug", message()) }
    }

    private func write(level: String, _ text: String, worker: (ref: WorkerRef, pid: Int32?)? = nil, at stamp: LogStamp = .now()) {
        feed.appendDaemonLine(level: level, text, worker: worker, at: stamp)
        feed.flush()
    }
}
