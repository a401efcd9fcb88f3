/// A `reload` item: one slot now runs a ready process of the new release.
public struct ProcessReplaced: Hashable, Sendable, Codable {
    public var group: String
    public var id: Int
    /// The process replaced; null when the slot was not running (it was
    /// backing off) and the reload started it.
    public var oldPid: Int32?
    public var newPid: Int32

    public init(group: String, id: Int, oldPid: Int32?, newPid: Int32) {
        self.group = group
        self.id = id
        self.oldPid = oldPid
        self.newPid = newPid
    }
}

/// A `reload` item: one group's reload ended, one item per group.
public struct GroupReloaded: Hashable, Sendable, Codable {
    public var group: String
    public var outcome: Outcome
    /// Processes replaced before the end (all of them when completed).
    public var replaced: Int
    /// For `signalled`: how many processes were sent SIGUSR1.
    public var signalled: Int?
    /// For `aborted`: why, e.g. "the successor web#2[4790] was not ready within 30s".
    public var reason: String?
    /// Slots that were not running (backing off) and were started.
    public var started: Int?
    /// What the operator should know, e.g. "count 4 → 1 from the config".
    public var notes: [String]?
    /// For `aborted`: the last lines the failed process printed, oldest
    /// first (a traceback usually says more than its exit status).
    public var output: [String]?

    public enum Outcome: String, Hashable, Sendable, Codable {
        /// Every process was replaced.
        case completed
        /// The group is not reloadable: its processes got SIGUSR1 and kept running.
        case signalled
        /// Stopped early; the processes not yet replaced keep serving.
        case aborted
    }

    public init(
        group: String, outcome: Outcome, replaced: Int, signalled: Int? = nil, reason: String? = nil,
        started: Int? = nil, notes: [String]? = nil, output: [String]? = nil
    ) {
        self.group = group
        self.outcome = outcome
        self.replaced = replaced
        self.signalled = signalled
        self.reason = reason
        self.started = started
        self.notes = notes
        self.output = output
    }
}
