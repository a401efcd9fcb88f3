/// The first item of every `status` snapshot: the master itself and a
/// summary of each group. Times are Unix seconds, durations seconds, sizes
/// bytes: raw numbers, for programs; `appctl` turns them into units.
public struct MasterStatus: Hashable, Sendable, Codable {
    public var pid: Int32
    /// The daemon's product version.
    public var version: String
    /// When the master started, Unix seconds.
    public var startedAt: Double
    public var uptime: Double
    /// The host's 1, 5 and 15 minute load averages.
    public var loadAverage: [Double]
    /// The I/O mechanism of the master's loop ("epoll"), for bug reports.
    public var eventLoop: String
    /// How many groups are configured.
    public var groups: Int
    /// How many processes are alive (have a pid) across all groups.
    public var processes: Int
    /// The master's own resident memory, when collected.
    public var rss: UInt64?
    /// One per group (only the requested group when the request named one).
    public var groupSummaries: [GroupSummary]

    public init(
        pid: Int32, version: String = AppdVersion.current, startedAt: Double, uptime: Double, loadAverage: [Double],
        eventLoop: String = "epoll", groups: Int, processes: Int, rss: UInt64? = nil, groupSummaries: [GroupSummary]
    ) {
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.uptime = uptime
        self.loadAverage = loadAverage
        self.eventLoop = eventLoop
        self.groups = groups
        self.processes = processes
        self.rss = rss
        self.groupSummaries = groupSummaries
    }
}

/// One group as the master sees it, with its tally of failed exits
/// (Workerman's `worker_exit_info`).
public struct GroupSummary: Hashable, Sendable, Codable {
    public var name: String
    /// The configured number of processes.
    public var count: Int
    /// How many of them are running now.
    public var running: Int
    /// How many of them passed their readiness rule.
    public var ready: Int?
    /// How many are started but not ready yet (booting, or waiting out
    /// their readiness rule). Optional: older daemons leave it out.
    public var starting: Int?
    /// How many worker ids have no process because they wait out a
    /// restart backoff after failing (quick exits, failed spawns). Optional.
    public var backoff: Int?
    /// Worker ids given up on (`failed`: not restarted by policy or
    /// limit) and one-shot ids that completed. Optional.
    public var failed: Int?
    public var completed: Int?
    public var reloadable: Bool
    public var state: State
    /// For `degraded`: why, e.g. the last reload's failure, or the
    /// processes backing off.
    public var reason: String?
    /// The group's sockets as configured ("tcp://127.0.0.1:8080").
    public var listen: [String]
    /// Failed exits (non-zero codes and deaths by signal) by status, most frequent first.
    public var exits: [ExitCount]

    public enum State: String, Hashable, Sendable, Codable {
        case running, stopped, reloading
        /// Every worker id ran its one-shot process to success.
        case completed
        /// Asked to start, it waits for the groups of its `dependsOn` to be ready.
        case waiting
        /// Not every process serves as it should: some wait out a restart
        /// backoff after failing (`backoff`), or the last reload failed
        /// (the processes it did not replace run the previous release;
        /// cleared by a reload that completes). `reason` says which.
        case degraded
    }

    /// How often the group's processes ended one particular way.
    public struct ExitCount: Hashable, Sendable, Codable {
        /// The stable key, `ExitStatus.key`: "exit:3", "signal:KILL".
        public var status: String
        /// For people, `ExitStatus.description`: "exited 3", "killed by SIGKILL".
        public var description: String
        public var count: Int

        public init(_ status: ExitStatus, count: Int) {
            self.init(key: status.key, description: status.description, count: count)
        }

        /// For failures that are not an exit status: "not-ready", "watchdog", "spawn-failed".
        public init(key: String, description: String, count: Int) {
            self.status = key
            self.description = description
            self.count = count
        }
    }

    public init(
        name: String, count: Int, running: Int, ready: Int? = nil, starting: Int? = nil, backoff: Int? = nil,
        failed: Int? = nil, completed: Int? = nil,
        reloadable: Bool, state: State, reason: String? = nil, listen: [String], exits: [ExitCount]
    ) {
        self.name = name
        self.count = count
        self.running = running
        self.ready = ready
        self.starting = starting
        self.backoff = backoff
        self.failed = failed
        self.completed = completed
        self.reloadable = reloadable
        self.state = state
        self.reason = reason
        self.listen = listen
        self.exits = exits
    }
}
