import Glibc
import Shared
import SupervisorCore

/// The loop's side of one log (a `LogSink`): lines are formatted into a
/// staging buffer and handed to the sink in one piece (`flush`), so a
/// worker flooding its stdout costs the loop a copy per line and one lock
/// per read of its pipe, never a lock or a system call per line.
///
/// Every line bound for the log goes through its one feed, in the order it
/// happened: a worker's output and appd's lines about it stay interleaved.
final class LogFeed {
    let sink: LogSink
    /// The log file's path; nil for stderr.
    let path: String?
    private(set) var format: LogLineStyle
    private var staged: [UInt8] = []

    private init(sink: LogSink, path: String?, format: LogLineStyle) {
        self.sink = sink
        self.path = path
        self.format = format
    }

    /// Opens the log `config` names ("-": stderr), rotated as it says.
    /// `carriesStandardStreams`: see `RotatingLogFile`. Not for a `raw`
    /// file, which has no lines of appd's making (`RawLogFile`; the config
    /// refuses it for appd's own log).
    static func open(_ config: LogFileConfig, capacity: Int = LogSink.defaultCapacity,
                     carriesStandardStreams: Bool = false) throws(SystemError) -> LogFeed {
        assert(config.format.lineStyle != nil, "a raw log file is a RawLogFile, not a feed")
        let style = config.format.lineStyle ?? .text
        guard !config.isStandardError else {
            return LogFeed(sink: LogSink(.descriptor(STDERR_FILENO, name: "stderr"), format: style, capacity: capacity),
                           path: nil, format: style)
        }
        let file = RotatingLogFile(try RotatingLogFile.Handle.open(config.path), rotation: LogRotation(config),
                                   carriesStandardStreams: carriesStandardStreams)
        return LogFeed(sink: LogSink(.file(file), format: style, capacity: capacity), path: config.path, format: style)
    }

    /// The lines one read of a worker's pipe completed (`spans` of `buffer`).
    func appendGroupLines(_ spans: [LineSpan], of buffer: UnsafeBufferPointer<UInt8>, from source: LineSource, at stamp: LogStamp) {
        LogLineFormat.appendGroupLines(spans, of: buffer, from: source, at: stamp, as: format, to: &staged)
    }

    /// appd's line about a worker, as its group's log shows it.
    func appendGroupLine(_ text: [UInt8], from source: LineSource, at stamp: LogStamp) {
        LogLineFormat.appendGroupLine(text, from: source, at: stamp, as: format, to: &staged)
    }

    /// appd's own line; `worker`: the worker (and process) it is about.
    func appendDaemonLine(level: String, _ text: String, worker: (ref: WorkerRef, pid: Int32?)? = nil, at stamp: LogStamp) {
        LogLineFormat.appendDaemonLine(level: level, text, worker: worker, at: stamp, as: format, to: &staged)
    }

    /// Hands what is staged to the sink.
    func flush() {
        guard !staged.isEmpty else { return }
        sink.write(&staged)
    }

    /// New settings for the same file (a reload): from the next line on.
    func reconfigure(_ config: LogFileConfig) {
        flush()
        assert(config.format.lineStyle != nil, "a file's format changed to or from raw is a file of another kind (GroupLogs)")
        format = config.format.lineStyle ?? format
        sink.reconfigure(rotation: LogRotation(config), format: format)
    }

    /// Opens the file again by its path, its directory walked and checked
    /// anew, for an external logrotate that moved it away; the writer
    /// switches to it from its next write. False for stderr, which has no path.
    func reopen() throws(SystemError) -> Bool {
        guard let path else { return false }
        flush()
        sink.adopt(try RotatingLogFile.Handle.open(path))
        return true
    }

    /// Not used any more: what is staged and queued is written, then the file closed.
    func close() {
        flush()
        sink.close()
    }

    /// At exit: what is staged and queued is written, within `timeout` seconds.
    func finish(timeout: Double) {
        flush()
        sink.finish(timeout: timeout)
    }
}
