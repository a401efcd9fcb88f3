import Shared
import SupervisorCore

/// Where every line about a group goes: its history (`GroupHistory`, for
/// `appctl logs`), its log files (or the daemon's log, for a group without
/// one), and whoever follows it (`logs --follow`). The lines are what the
/// group's workers print (`WorkerOutputs`) and appd's own lines about them
/// (`LogRecord`s that name a worker), in the order they happen, so a
/// crash loop reads as traceback, exit, backoff, start, traceback...
///
/// The files are opened by the loop (a reload that cannot open one is
/// refused before anything changes) and written by their sinks' threads.
/// A `raw` file is no feed: its workers write into its pipe themselves
/// (`RawLogFile`), so their output never comes here, and it gets none of
/// appd's lines.
final class GroupLogs {
    /// Each line as it is recorded, for `logs --follow`; asked only for
    /// lines of a group that `isFollowed` (building an entry costs a copy).
    var onEntry: (LogEntry) -> Void = { _ in }
    var isFollowed: (_ group: String) -> Bool = { _ in false }

    /// One group: its history and which feed each kind of line goes to.
    fileprivate final class Group {
        var history: GroupHistory
        /// stdout, and stderr unless `errors` is a file of its own.
        var output: LogFeed
        var errors: LogFeed
        /// The group's own `log` file, where appd's lines about its workers
        /// go too; nil when its output goes to the daemon's log, which has
        /// them already, or to a raw file, which takes none.
        var ownFile: LogFeed?
        /// The raw files the group's stdout and stderr go to, if raw:
        /// each new worker gets their pipe instead of pipes of its own.
        var rawOutput: RawLogFile?
        var rawErrors: RawLogFile?

        init(history: GroupHistory, output: LogFeed, errors: LogFeed, ownFile: LogFeed?, rawOutput: RawLogFile?, rawErrors: RawLogFile?) {
            self.history = history
            self.output = output
            self.errors = errors
            self.ownFile = ownFile
            self.rawOutput = rawOutput
            self.rawErrors = rawErrors
        }

        func feed(for stream: LogEntry.Stream) -> LogFeed { stream == .stderr ? errors : output }
    }

    /// Log files opened for a config before it is applied (`openFiles`).
    struct OpenedFiles {
        var feeds: [String: LogFeed] = [:]
        var raw: [String: RawLogFile] = [:]
    }

    let daemonLog: DaemonLog
    private var groups: [String: Group] = [:]
    /// The groups' open log files, by path, with the settings they were opened or last configured with.
    private var files: [String: (file: LogFeed, config: LogFileConfig)] = [:]
    /// The groups' open raw log files, the same way.
    private var rawFiles: [String: (file: RawLogFile, config: LogFileConfig)] = [:]
    /// Orders lines across groups (`GroupHistory.Line.sequence`); 0 is
    /// "before the first line".
    private var nextSequence: UInt64 = 1

    init(daemonLog: DaemonLog) { self.daemonLog = daemonLog }

    // MARK: - Configuration

    /// The group log files `config` names that are not open yet, opened
    /// (their directories made and checked) but not used: `apply` uses
    /// them, `discard` closes them when the config is not applied after all.
    func openFiles(for config: DaemonConfig) throws(SystemError) -> OpenedFiles {
        var opened = OpenedFiles()
        for group in config.groups {
            for file in group.logFiles {
                do {
                    if file.format == .raw {
                        guard rawFiles[file.path] == nil, opened.raw[file.path] == nil else { continue }
                        opened.raw[file.path] = try RawLogFile(file, notices: daemonLog.feed)
                    } else {
                        guard files[file.path] == nil, opened.feeds[file.path] == nil else { continue }
                        opened.feeds[file.path] = try LogFeed.open(file, capacity: LogSink.groupFileCapacity)
                    }
                } catch {
                    discard(opened)
                    throw SystemError(call: "the log file of group \(group.name)", errno: error.errno, reason: error.description)
                }
            }
        }
        return opened
    }

    func discard(_ opened: OpenedFiles) {
        for feed in opened.feeds.values { feed.close() }
        for file in opened.raw.values { file.finish(timeout: 0) }
    }

    /// Each group of `config` gets its history limits and files, from the
    /// next line on; a history is kept across a reload (resized when its
    /// limits changed). Files no group names any more are closed, their
    /// queued lines written first. A group `config` no longer has keeps no
    /// history; what its stopping processes still print goes to the daemon's log.
    ///
    /// A file whose format changes to or from `raw` is closed and opened
    /// anew as the other kind: the workers started from now on write it
    /// the new way, those already running the old way until they are
    /// replaced (a process's stdout cannot be moved).
    func apply(_ config: DaemonConfig, opened: OpenedFiles) {
        let configs = config.groups.lazy.flatMap(\.logFiles)
        for (path, feed) in opened.feeds { files[path] = (feed, configs.first { $0.path == path && $0.format != .raw }!) }
        for (path, file) in opened.raw { rawFiles[path] = (file, configs.first { $0.path == path && $0.format == .raw }!) }
        var configured: [String: Group] = [:]
        for group in config.groups {
            let own = group.log.flatMap(file(configuredAs:))
            let rawOutput = group.log.flatMap(rawFile(configuredAs:))
            let rawErrors = group.stderrLog.map(rawFile(configuredAs:)) ?? rawOutput
            let errors = group.stderrLog.flatMap(file(configuredAs:)) ?? own ?? daemonLog.feed
            let history = groups[group.name]?.history.resized(to: group.history) ?? GroupHistory(limits: group.history)
            configured[group.name] = Group(history: history, output: own ?? daemonLog.feed, errors: errors, ownFile: own,
                                           rawOutput: rawOutput, rawErrors: rawErrors)
        }
        groups = configured
        let namedLines = Set(configs.filter { $0.format != .raw }.map(\.path))
        let namedRaw = Set(configs.filter { $0.format == .raw }.map(\.path))
        for (path, lines) in files where !namedLines.contains(path) {
            lines.file.close()
            files[path] = nil
        }
        for (path, raw) in rawFiles where !namedRaw.contains(path) {
            raw.file.close()
            rawFiles[path] = nil
        }
    }

    /// The pipe a new worker of `group` writes `stream` into, when it goes to
    /// a raw file; nil: a pipe of its own, read by `WorkerOutputs`.
    func rawPipe(of group: String, for stream: LogEntry.Stream) -> Int32? {
        guard let group = groups[group] else { return nil }
        let file = stream == .stderr ? group.rawErrors : group.rawOutput
        return file.map(\.writeEnd)
    }

    /// Lines each open group log file dropped since it was opened, by path
    /// (its sink's count: it only goes up while the file is configured).
    var fileLinesDropped: [String: Int] { files.mapValues { $0.file.sink.droppedLinesTotal } }

    /// The open file of lines at `config.path`, reconfigured when its
    /// settings changed; nil for a raw file (`rawFile(configuredAs:)`).
    private func file(configuredAs config: LogFileConfig) -> LogFeed? {
        config.format == .raw ? nil : Self.open(config, in: &files, reconfigure: LogFeed.reconfigure)
    }

    /// The open raw file at `config.path`, reconfigured when its settings
    /// changed; nil for a file of lines.
    private func rawFile(configuredAs config: LogFileConfig) -> RawLogFile? {
        config.format == .raw ? Self.open(config, in: &rawFiles, reconfigure: RawLogFile.reconfigure) : nil
    }

    /// The file at `config.path` among `open` (opened by `openFiles`),
    /// given `config` first when its settings changed (a reload).
    private static func open<File>(_ config: LogFileConfig, in open: inout [String: (file: File, config: LogFileConfig)],
                                   reconfigure: (File) -> (LogFileConfig) -> Void) -> File {
        let opened = open[config.path]!
        if opened.config != config {
            reconfigure(opened.file)(config)
            open[config.path] = (opened.file, config)
        }
        return opened.file
    }

    // MARK: - Recording

    /// The lines one read of a worker's pipe completed (`spans` of
    /// `bytes`), all read at `stamp`: into the group's history, its log (in
    /// one piece) and to its followers.
    func recordOutput(_ spans: [LineSpan], of bytes: UnsafeBufferPointer<UInt8>, from source: LineSource, at stamp: LogStamp) {
        // No group: one a reload removed, whose processes are stopping.
        let group = groups[source.group]
        group?.history.append(spans, of: bytes, firstSequence: nextSequence,
                              origin: .init(time: stamp.seconds, id: source.id, pid: source.pid, stream: source.stream))
        nextSequence += UInt64(spans.count)
        let feed = group?.feed(for: source.stream) ?? daemonLog.feed
        feed.appendGroupLines(spans, of: bytes, from: source, at: stamp)
        feed.flush()
        guard isFollowed(source.group) else { return }
        for span in spans { onEntry(entry(String(decoding: span.text(in: bytes), as: UTF8.self), from: source, at: stamp)) }
    }

    /// One of appd's lines: to the daemon's log, and when it is about a
    /// worker, to its group's history, its own log file and its followers.
    func record(_ record: LogRecord) {
        let stamp = LogStamp.now()
        daemonLog.write(record, at: stamp)
        guard let worker = record.worker, let group = groups[worker.group] else { return }
        let source = LineSource(worker: worker, pid: record.pid, stream: .appd)
        let text = Array(record.message.utf8)
        group.history.append(text, sequence: nextSequence, origin: .init(time: stamp.seconds, id: worker.id, pid: record.pid, stream: .appd))
        nextSequence += 1
        if let file = group.ownFile {
            file.appendGroupLine(text, from: source, at: stamp)
            file.flush()
        }
        if isFollowed(worker.group) { onEntry(entry(record.message, from: source, at: stamp)) }
    }

    private func entry(_ line: String, from source: LineSource, at stamp: LogStamp) -> LogEntry {
        LogEntry(time: stamp.seconds, group: source.group, id: source.id, pid: source.pid, stream: source.stream, line: line)
    }

    // MARK: - Reading

    /// The newest line's sequence (0: none yet).
    var newestSequence: UInt64 { nextSequence - 1 }

    /// Where to start for the last `count` lines `filter` accepts: the
    /// sequence just before the oldest of them (`lines(after:)` then
    /// gives them, oldest first).
    func cursor(beforeLast count: Int, matching filter: LogFilter) -> UInt64 {
        var oldest: [UInt64] = []
        for (name, group) in groups where filter.group == nil || filter.group == name {
            oldest += group.history.last(count) { filter.accepts(group: name, id: $0.id, stream: $0.stream) }.map(\.sequence)
        }
        guard count > 0, let first = oldest.sorted().suffix(count).first else { return newestSequence }
        return first - 1
    }

    /// Up to `limit` lines `filter` accepts, recorded after `cursor` and at
    /// most at `end`, oldest first across groups, each with its sequence.
    func lines(after cursor: UInt64, through end: UInt64? = nil, matching filter: LogFilter, limit: Int) -> [(sequence: UInt64, entry: LogEntry)] {
        var found: [(group: String, history: GroupHistory, line: GroupHistory.Line)] = []
        for (name, group) in groups where filter.group == nil || filter.group == name {
            let history = group.history
            found += history.lines(after: cursor, limit: limit) { filter.accepts(group: name, id: $0.id, stream: $0.stream) }
                .map { (name, history, $0) }
        }
        let newest = end ?? newestSequence
        return found.sorted { $0.line.sequence < $1.line.sequence }.prefix(limit)
            .filter { $0.line.sequence <= newest }
            .map { found in
                (found.line.sequence, LogEntry(time: found.line.time, group: found.group, id: found.line.id, pid: found.line.pid,
                                               stream: found.line.stream, line: found.history.text(of: found.line)))
            }
    }

    /// The last lines process `pid` printed, for a reload it aborted.
    func recentOutput(ofProcess pid: Int32, limit: Int) -> [String] {
        for group in groups.values {
            let lines = group.history.last(limit) { $0.pid == pid && $0.stream != .appd }
            if !lines.isEmpty { return lines.map(group.history.text(of:)) }
        }
        return []
    }

    // MARK: - Files

    /// Opens every log file again by its path (the daemon's own included),
    /// for an external logrotate that moved them away. Returns how many
    /// were reopened and what failed (those are written on where they were).
    func reopenAll() -> (reopened: Int, failures: [String]) {
        var reopened = 0
        var failures: [String] = []
        for feed in [daemonLog.feed] + files.keys.sorted().map({ files[$0]!.file }) {
            do {
                if try feed.reopen() { reopened += 1 }
            } catch {
                failures.append(error.description)
            }
        }
        for path in rawFiles.keys.sorted() {
            do {
                try rawFiles[path]!.file.reopen()
                reopened += 1
            } catch {
                failures.append(error.description)
            }
        }
        return (reopened, failures)
    }

    /// At exit: what is queued for the groups' files is written, within
    /// `timeout` seconds in all (the daemon's log is finished last, by its owner).
    func finish(timeout: Double) {
        for lines in files.values { lines.file.close() }
        for raw in rawFiles.values { raw.file.close() }
        let deadline = MonotonicInstant.now().adding(seconds: timeout)
        for lines in files.values { lines.file.finish(timeout: max(0, deadline.seconds(since: .now()))) }
        for raw in rawFiles.values { raw.file.finish(timeout: max(0, deadline.seconds(since: .now()))) }
    }
}
