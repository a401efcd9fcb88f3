/// The validated daemon configuration: every path absolute, every default
/// filled in, every value checked. Produced by `ConfigLoader` from a JSON5
/// file or by `DemoConfig` when no file is given.
public struct DaemonConfig: Sendable, Equatable {
    /// The file this came from; nil for the embedded demo.
    public var sourcePath: String?
    public var controlSocket: String
    public var pidFile: String
    /// Written on SIGUSR2 (status) and, with a `.connections` suffix, on SIGIO.
    public var statusFile: String
    /// The daemon's own log (`logFile`): "-" is stderr.
    public var daemonLog: LogFileConfig
    /// Default seconds between a group's stopSignal and SIGKILL.
    public var stopTimeout: Double
    public var groups: [GroupConfig]
    /// The HTTP listener for scrapers and probes; nil: none.
    public var metrics: MetricsSettings?
    /// false: no cgroups even where the system has a usable cgroup v2;
    /// workers are contained by their process groups alone (the fallback).
    public var cgroups: Bool

    public init(
        sourcePath: String?, controlSocket: String, pidFile: String, statusFile: String,
        daemonLog: LogFileConfig, stopTimeout: Double, groups: [GroupConfig], metrics: MetricsSettings? = nil, cgroups: Bool = true
    ) {
        self.cgroups = cgroups
        self.sourcePath = sourcePath
        self.controlSocket = controlSocket
        self.pidFile = pidFile
        self.statusFile = statusFile
        self.daemonLog = daemonLog
        self.stopTimeout = stopTimeout
        self.groups = groups
        self.metrics = metrics
    }

    public func group(named name: String) -> GroupConfig? { groups.first { $0.name == name } }

    /// This config with `group` in place of the one of the same name, or
    /// added after the others: a reload of one group applies only its entry.
    public func replacing(_ group: GroupConfig) -> DaemonConfig {
        var result = self
        if let index = result.groups.firstIndex(where: { $0.name == group.name }) {
            result.groups[index] = group
        } else {
            result.groups.append(group)
        }
        return result
    }
}

/// One named group of identical worker processes (a Workerman `Worker`).
public struct GroupConfig: Sendable, Equatable {
    /// The most processes one group may ask for, in a config or by `scale`:
    /// a typo of a few zeros must not fork the machine to death or make the
    /// master allocate slots until it is killed.
    public static let maximumCount = 10_000
    /// The longest duration a config may give (stopTimeout, readyTimeout,
    /// afterSeconds): about 11 days, far beyond any sane timeout.
    public static let maximumSeconds = 1_000_000.0

    public var name: String
    /// argv, no shell. argv[0] is looked up in PATH when it has no slash.
    public var command: [String]
    /// How many processes to keep running; 0 is allowed (a parked group).
    public var count: Int
    /// false: reload sends SIGUSR1 to the process instead of replacing it.
    public var reloadable: Bool
    /// Sockets the master binds once and hands down at fd 3.. (LISTEN_FDS).
    public var listen: [ListenAddress]
    /// File permissions of the unix sockets in `listen` that were given
    /// `mode`, `owner` or `group` (`UnixSocketPermissions`).
    public var socketPermissions: [ListenAddress: UnixSocketPermissions] = [:]
    /// Memory, CPU and process limits (`CgroupLimits`).
    public var limits = CgroupLimits()
    public var readiness: Readiness
    /// Seconds a starting process may take to become ready before it counts as failed.
    public var readyTimeout: Double
    public var stopSignal: UnixSignal
    /// Seconds between stopSignal and SIGKILL.
    public var stopTimeout: Double
    public var env: [String: String]
    /// Absolute working directory.
    public var cwd: String
    /// The order of a rolling reload's two halves for each slot.
    public var reloadStrategy: ReloadStrategy
    /// How many slots a start-first reload replaces at once: the most
    /// processes the group runs beyond `count` while it reloads.
    public var maxSurge: Int
    /// A ready process must send WATCHDOG=1 at least this often (seconds),
    /// or it is killed as hung and replaced; nil: no watchdog.
    public var watchdogSeconds: Double?
    /// Bytes of output per second and process that reach the log; lines
    /// beyond are dropped and counted. 0: no limit.
    public var outputBytesPerSecond: Int
    /// The default: 4 MiB/s per process, far beyond honest logging, far
    /// below a worker stuck printing in a loop.
    public static let defaultOutputBytesPerSecond = 4 << 20
    /// Where stdout goes (stderr too, unless `stderrLog`) and appd's own
    /// lines about the group's workers; nil: the daemon's log.
    public var log: LogFileConfig?
    /// A file of its own for stderr; nil: with stdout.
    public var stderrLog: LogFileConfig?
    /// The recent output kept in memory for `appctl logs`.
    public var history: HistoryLimits
    /// Which exits of a process appd did not ask for are followed by a new one.
    public var restart: RestartPolicy = .always
    /// Exit codes that count as success (systemd's SuccessExitStatus): not
    /// a failure in the tally, and the end of an `on-failure` worker.
    public var successExitCodes: Set<Int32> = [0]
    /// A worker id restarted after a failure more than this many times
    /// within `restartWindow` seconds is given up on: it stays `failed`
    /// until the operator starts, restarts or reloads it (systemd's
    /// StartLimitBurst and StartLimitIntervalSec, supervisord's
    /// startretries). Success exits do not count: a worker that exits to be
    /// recycled is restarted for as long as it does so.
    public var maxRestarts = GroupConfig.defaultMaxRestarts
    public var restartWindow = GroupConfig.defaultRestartWindow
    /// Ten restarts in a minute: a crash loop's backoff (0.1 s doubling)
    /// gets there in about 50 s, a worker that crashes once in a while never.
    public static let defaultMaxRestarts = 10
    public static let defaultRestartWindow = 60.0

    /// Groups this one starts after (once each has its count of processes
    /// ready, or completed) and stops before, when the daemon stops
    /// (systemd's `After=`/`Wants=`, process-compose's `depends_on`).
    public var dependsOn: [String] = []
    /// false: the group is defined but stopped until `appctl start`.
    public var autostart = true

    /// Whether an exit counts as success: an exit code in `successExitCodes`.
    public func isSuccess(_ status: ExitStatus) -> Bool {
        if case .exited(let code) = status { return successExitCodes.contains(code) }
        return false
    }

    /// Who the processes run as (`user`, `group`); nil: appd's own user.
    public var identity: WorkerIdentity?
    /// The processes' umask; nil: appd's own.
    public var umask: UInt32?
    /// `rlimits`, set in the child before exec. A configured `nofile` wins
    /// over the soft limit appd gives children back (it raises its own).
    public var resourceLimits: [ResourceLimitName: ResourceLimit] = [:]
    /// The processes' nice value, -20 (first) to 19 (last); nil: appd's own.
    public var nice: Int?
    /// `envFile`, in the config's order: later files win over earlier
    /// ones, and `env` over them all.
    public var envFiles: [EnvironmentFile] = []

    public init(
        name: String, command: [String], count: Int, reloadable: Bool = true,
        listen: [ListenAddress] = [], readiness: Readiness = .standard, readyTimeout: Double = 30,
        stopSignal: UnixSignal = .terminate, stopTimeout: Double = 2, env: [String: String] = [:],
        cwd: String = "/", reloadStrategy: ReloadStrategy = .startFirst, maxSurge: Int = 1,
        watchdogSeconds: Double? = nil, outputBytesPerSecond: Int = GroupConfig.defaultOutputBytesPerSecond,
        log: LogFileConfig? = nil, stderrLog: LogFileConfig? = nil, history: HistoryLimits = .standard
    ) {
        self.name = name
        self.command = command
        self.count = count
        self.reloadable = reloadable
        self.listen = listen
        self.readiness = readiness
        self.readyTimeout = readyTimeout
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.env = env
        self.cwd = cwd
        self.reloadStrategy = reloadStrategy
        self.maxSurge = maxSurge
        self.watchdogSeconds = watchdogSeconds
        self.outputBytesPerSecond = outputBytesPerSecond
        self.log = log
        self.stderrLog = stderrLog
        self.history = history
    }

    /// Every log file the group writes.
    public var logFiles: [LogFileConfig] { [log, stderrLog].compactMap { $0 } }

    /// Whether a running process would differ from one started with
    /// `other`: what a rolling reload replaces processes for (a count change
    /// alone is a resize, not a new release).
    public func startsTheSameProcessAs(_ other: GroupConfig) -> Bool {
        command == other.command && env == other.env && cwd == other.cwd && listen == other.listen
            && watchdogSeconds == other.watchdogSeconds && identity == other.identity && umask == other.umask
            && resourceLimits == other.resourceLimits && nice == other.nice && envFiles == other.envFiles
            && limits == other.limits
    }

    /// What the `envFile`s set together, a later file winning.
    public var environmentFromFiles: [String: String] {
        envFiles.reduce(into: [:]) { environment, file in environment.merge(file.variables) { _, later in later } }
    }

    /// The variables the group sets for worker `id`: its `envFile`s, then
    /// its `env` with templates (`{{8000 + id}}`) expanded for that id.
    public func environment(forWorker id: Int) -> [String: String] {
        var environment = environmentFromFiles
        for (name, value) in env { environment[name] = EnvironmentTemplate.expand(value, workerID: id) }
        return environment
    }
}

/// Which exits appd did not ask for are followed by a new process
/// (systemd's `Restart=`, supervisord's `autorestart`).
public enum RestartPolicy: String, Sendable, Equatable, CaseIterable {
    /// Every exit, success or not (the default: a worker is meant to run).
    case always
    /// Exits that are failures (an exit code not in `successExitCodes`, a
    /// signal, a missed readiness or watchdog); a success ends the worker
    /// as `completed`.
    case onFailure = "on-failure"
    /// None: a success ends it as `completed`, a failure as `failed` (a
    /// one-shot job: a migration, a cache warm-up).
    case never
}

/// How a rolling reload replaces one slot's process.
public enum ReloadStrategy: String, Sendable, Equatable, CaseIterable {
    /// Start the successor beside the running process, wait until it is
    /// ready, then stop the old one: no moment without a serving process,
    /// and a successor that fails leaves the old one untouched. Needs a
    /// program that can run twice at once: one that takes its sockets from
    /// the master (`listen`) rather than binding them itself.
    case startFirst
    /// Workerman's order: stop the old process, then start its successor.
    /// For programs that cannot run twice (they bind their own port or hold
    /// a lock); the slot serves nothing while the successor boots.
    case stopFirst
}

/// When a freshly started process counts as ready to serve.
public enum Readiness: Sendable, Equatable {
    /// What a group gets when it says nothing: a process counts as started
    /// once it stayed up 1 s (supervisord's `startsecs`), so a release that
    /// dies at once fails its reload instead of passing it.
    public static let standard = Readiness.afterSeconds(1)

    /// As soon as it is spawned.
    case none
    /// When it sends READY=1 on NOTIFY_SOCKET (systemd's Type=notify).
    case notify
    /// After it has stayed up this many seconds.
    case afterSeconds(Double)
}

/// A socket the master binds for a group: `tcp://HOST:PORT` (IPv4 or
/// `[IPv6]`) or `unix:/path`.
public enum ListenAddress: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .unix(let path):
            return "unix:\(path)"
        }
    }
}
