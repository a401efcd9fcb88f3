import Shared

/// A rolling reload in progress for one group.
///
/// It carries no list of pids: the group's `generation` says which processes
/// are out of date, so a process that crashed and came back mid-reload is
/// already current and skipped. A second reload asked meanwhile is refused
/// (`busy`); the shell queues one asked by signal until this one ends.
struct RollingReload: Sendable, Equatable {
    /// The slot being replaced right now, one at a time per group.
    var currentSlot: Int?
    /// The pid being replaced, for the progress notice.
    var replacingPid: Int32?
    var replaced = 0
}

/// A group's runtime state: its configuration, its slots, what the operator
/// wants of it, and its exit tally.
struct WorkerGroup: Sendable, Equatable {
    var config: GroupConfig
    /// Indexed by worker id: `slots[i].id == i`. Slots beyond `count` linger
    /// only while their process stops after a scale-down, and always form a
    /// suffix, so the indexing holds.
    var slots: [WorkerSlot]
    /// false after `stop group` or when removed by a reload: no respawns.
    var wantsRunning = true
    /// Removed from the config by a reload: dropped once its slots are empty.
    var retiring = false
    /// Raised by every reload; processes of older generations get replaced.
    var generation = 0
    var reload: RollingReload?
    var exits = ExitTally()

    init(config: GroupConfig) {
        self.config = config
        self.slots = (0..<config.count).map(WorkerSlot.init(id:))
    }

    var name: String { config.name }

    var isQuiet: Bool { slots.allSatisfy { $0.state == .empty } }

    /// Slots with a process, for signalling and status.
    var liveProcesses: [WorkerProcess] { slots.compactMap(\.process) }
}
