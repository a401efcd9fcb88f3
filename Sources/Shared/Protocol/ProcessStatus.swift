/// One worker slot in a `status` snapshot: the process in it now (if any)
/// and how its predecessor ended.
///
/// `pid`, `uptime` and `lastExit` are always present, null when there is
/// nothing to show, so that a script can index them without checking. The
/// figures from `/proc` and from the worker's own notify messages are
/// optional and left out when not collected: a client must not rely on them.
public struct ProcessStatus: Hashable, Sendable, Codable {
    public var group: String
    /// The worker id, 0..<count, reused by the replacement of a process.
    public var id: Int
    /// nil when no process occupies the slot.
    public var pid: Int32?
    public var state: State
    /// Seconds since this process started; nil without a process.
    public var uptime: Double?
    /// How many times the slot's process was replaced after exiting.
    public var restarts: Int
    public var lastExit: LastExit?
    /// Seconds until the next start attempt, while backing off.
    public var backoffRemaining: Double?
    /// Resident memory, bytes.
    public var rss: UInt64?
    /// CPU use since the previous sample, percent of one core.
    public var cpu: Double?
    /// Open file descriptors.
    public var fds: Int?
    public var threads: Int?
    /// TCP sockets of the process by state, lower-case: `{"established": 3, "time_wait": 1}`.
    public var tcp: [String: Int]?
    /// The object the worker last sent as `APPSTATS=`, passed through as is.
    public var appStats: JSONValue?
    /// The text the worker last sent as `STATUS=`.
    public var statusText: String?

    public enum State: String, Hashable, Sendable, Codable, CaseIterable {
        /// Spawned, not yet ready by its group's readiness rule.
        case starting
        case running
        /// Sent its stop signal, not yet exited.
        case stopping
        /// Waiting out a restart delay after exiting too often.
        case backoff
        /// No process, none wanted (group stopped or daemon stopping).
        case stopped
        /// Failed, and not restarted by its restart policy or limit.
        case failed
        /// A one-shot process that exited with success; none follows.
        case completed
    }

    /// How the previous process of this slot ended.
    public struct LastExit: Hashable, Sendable, Codable {
        /// For people: "exited 3", "killed by SIGKILL", or why it never ran.
        public var description: String
        /// `ExitStatus.key` ("exit:3"); nil when the process never ran (spawn failed).
        public var status: String?
        /// When, Unix seconds.
        public var at: Double
        /// How long the process had run, seconds.
        public var uptime: Double
        /// Why appd had asked the process to stop, when it had: `"stop"`,
        /// `"reload"`, `"restart"`, `"scale"`, `"reloadAborted"` (exits appd
        /// asked for, not failures), or `"notReady"`, `"watchdog"` (failures
        /// appd acted on). nil (left out) when the process ended on its own.
        public var requested: String?

        public init(description: String, status: String?, at: Double, uptime: Double, requested: String? = nil) {
            self.description = description
            self.status = status
            self.at = at
            self.uptime = uptime
            self.requested = requested
        }

        public init(_ status: ExitStatus, at: Double, uptime: Double, requested: String? = nil) {
            self.init(description: status.description, status: status.key, at: at, uptime: uptime, requested: requested)
        }

        private enum CodingKeys: String, CodingKey { case description, status, at, uptime, requested }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(description, forKey: .description)
            try container.encode(status, forKey: .status)
            try container.encode(at, forKey: .at)
            try container.encode(uptime, forKey: .uptime)
            try container.encodeIfPresent(requested, forKey: .requested)
        }
    }

    public init(
        group: String, id: Int, pid: Int32?, state: State, uptime: Double?, restarts: Int, lastExit: LastExit?,
        backoffRemaining: Double? = nil, rss: UInt64? = nil, cpu: Double? = nil, fds: Int? = nil, threads: Int? = nil,
        tcp: [String: Int]? = nil, appStats: JSONValue? = nil, statusText: String? = nil
    ) {
        self.group = group
        self.id = id
        self.pid = pid
        self.state = state
        self.uptime = uptime
        self.restarts = restarts
        self.lastExit = lastExit
        self.backoffRemaining = backoffRemaining
        self.rss = rss
        self.cpu = cpu
        self.fds = fds
        self.threads = threads
        self.tcp = tcp
        self.appStats = appStats
        self.statusText = statusText
    }

    private enum CodingKeys: String, CodingKey {
        case group, id, pid, state, uptime, restarts, lastExit, backoffRemaining, rss, cpu, fds, threads, tcp,
             appStats, statusText
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(group, forKey: .group)
        try container.encode(id, forKey: .id)
        try container.encode(pid, forKey: .pid)
        try container.encode(state, forKey: .state)
        try container.encode(uptime, forKey: .uptime)
        try container.encode(restarts, forKey: .restarts)
        try container.encode(lastExit, forKey: .lastExit)
        try container.encodeIfPresent(backoffRemaining, forKey: .backoffRemaining)
        try container.encodeIfPresent(rss, forKey: .rss)
        try container.encodeIfPresent(cpu, forKey: .cpu)
        try container.encodeIfPresent(fds, forKey: .fds)
        try container.encodeIfPresent(threads, forKey: .threads)
        try container.encodeIfPresent(tcp, forKey: .tcp)
        try container.encodeIfPresent(appStats, forKey: .appStats)
        try container.encodeIfPresent(statusText, forKey: .statusText)
    }
}
