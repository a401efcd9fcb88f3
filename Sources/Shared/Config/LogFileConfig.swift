/// A log file and how appd keeps it from growing without end: once the next
/// line would take it past `maxBytes`, it is renamed to `.1` (the older
/// copies move up to `.2` … `.keep`, the oldest goes) and a new file is
/// begun. A line always goes whole into one file, so every file holds at
/// most `maxBytes` (or one line, when a line alone is longer).
public struct LogFileConfig: Sendable, Equatable {
    /// supervisord's `logfile_maxbytes` is 50 MB; 10 MiB with 5 copies keeps
    /// 60 MiB a group, enough for days of honest logging.
    public static let defaultMaxBytes = 10 << 20
    public static let defaultKeep = 5
    /// Smaller files would be renamed every few lines.
    public static let minimumMaxBytes = 1024
    public static let maximumKeep = 100

    /// Absolute. For the daemon's own log, "-" is stderr (never rotated).
    public var path: String
    /// 0: appd never rotates it (an external logrotate does, then runs
    /// `appctl logs --reopen`).
    public var maxBytes: Int
    /// Rotated copies kept beside the file: `path.1` (newest) … `path.keep`.
    public var keep: Int
    public var format: LogFormat

    public init(path: String, maxBytes: Int = LogFileConfig.defaultMaxBytes, keep: Int = LogFileConfig.defaultKeep,
                format: LogFormat = .text) {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.format = format
    }

    /// The daemon's log when the config names none: stderr, as text.
    public static let standardError = LogFileConfig(path: "-", maxBytes: 0, keep: 0)

    /// `logFile: "PATH"`, the string form: never rotated by appd, as before
    /// the object form existed, so a logrotate set up for it keeps working.
    public static func unrotated(_ path: String) -> LogFileConfig {
        LogFileConfig(path: path, maxBytes: 0, keep: 0)
    }

    public var isStandardError: Bool { path == "-" }

    /// The names rotation gives its copies, newest first: `web.log.1` … `web.log.5`.
    public var rotatedPaths: [String] {
        maxBytes > 0 && keep > 0 && !isStandardError ? (1...keep).map { "\(path).\($0)" } : []
    }
}

/// What a log file holds: lines, each stamped and labelled (`text`,
/// `json`), or the workers' bytes as they wrote them (`raw`).
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `2026-12-01T12:28:17.514Z web#0[4711] stdout: listening`: what
    /// `appctl logs` prints, for people and grep.
    case text
    /// One JSON object per line (`{"time": "2026-12-01T12:28:17.514Z",
    /// "group": "web", "id": 0, "pid": 4711, "stream": "stdout", "line":
    /// "listening"}`), for log shippers.
    case json
    /// What the group's processes wrote, byte for byte, as supervisord's
    /// `stdout_logfile` and a shell's `>>` keep it: no time, no label, none
    /// of appd's lines (those stay in appd's log and the history). Every
    /// process of the group writes into one pipe that the kernel empties
    /// into the file (splice(2)), so the bytes never pass through the
    /// master: the cheapest way to keep a torrent of output. The price is
    /// what needs the bytes: the history, `logs --follow` and
    /// `outputBytesPerSecond` see none of them, rotation cuts at `maxBytes`
    /// wherever that falls, and a disk that stalls makes the workers' writes
    /// wait (never the master). Not for appd's own log.
    case raw

    /// How each line is written; nil for `raw`, which has no lines of appd's making.
    public var lineStyle: LogLineStyle? {
        switch self {
        case .text: .text
        case .json: .json
        case .raw: nil
        }
    }
}

/// How a log written line by line shapes each line (`LogFormat` but `raw`).
public enum LogLineStyle: Sendable, Equatable {
    case text
    case json
}

/// How much of a group's recent output the master keeps in memory for
/// `appctl logs`: the newest `lines` lines whose text takes at most `bytes`.
/// Each group has its own, so a chatty group never pushes out a crashing
/// group's traceback.
public struct HistoryLimits: Sendable, Equatable {
    public static let standard = HistoryLimits(lines: 2000, bytes: 1 << 20)
    /// Room for a few of the longest lines appd keeps whole (16 KiB).
    public static let minimumBytes = 64 << 10
    public static let maximumBytes = 1 << 30
    public static let maximumLines = 1_000_000

    public var lines: Int
    public var bytes: Int

    public init(lines: Int, bytes: Int) {
        self.lines = lines
        self.bytes = bytes
    }
}
