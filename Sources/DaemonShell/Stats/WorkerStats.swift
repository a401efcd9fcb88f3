/// The figures of one worker process for `status` and `connections`.
struct WorkerStats: Equatable, Sendable {
    var pid: Int32
    /// Resident set size, bytes.
    var rss: UInt64
    /// Since the previous sample of this process; 100 = one core (see `CPUUsageTracker`).
    var cpuPercent: Double
    /// CPU time used since it started (utime + stime), seconds: a counter.
    var cpuSeconds: Double
    var openFDs: Int
    var threads: Int
    /// Its TCP sockets, listeners included, ordered by state, then local, then remote address.
    var connections: [TCPConnection]

    /// How many of its TCP sockets are in each state.
    var tcpCountsByState: [TCPState: Int] {
        connections.reduce(into: [:]) { $0[$1.state, default: 0] += 1 }
    }

    /// The same counts keyed by lower-case state name, as a status row carries them: `{"established": 3}`.
    var tcpCounts: [String: Int] {
        connections.reduce(into: [:]) { $0[$1.state.key, default: 0] += 1 }
    }

    /// Its connections by lower-case state, listeners left out (every worker
    /// of a group shares those): what a status row and the metrics show.
    var connectionCounts: [String: Int] {
        connections.filter { $0.state != .listen }.reduce(into: [:]) { $0[$1.state.key, default: 0] += 1 }
    }
}

/// The master's own line of `status`.
struct MasterStats: Equatable, Sendable {
    /// Resident set size of the master, bytes; nil if /proc could not be read.
    var rss: UInt64?
    /// 1, 5 and 15 minute load averages; nil if /proc could not be read.
    var loadAverage: [Double]?
}
