import Shared

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
    /// Why the last reload failed; cleared when a later one completes.
    var degradedReason: String?
    var intensity = RestartIntensity()
    /// Restarts are held back until then: the group restarts too often.
    var restartsHeldUntil: MonotonicInstant?

    init(config: GroupConfig) {
        self.config = config
        self.slots = (0..<config.count).map(WorkerSlot.init(id:))
    }

    var name: String { config.name }

    var isQuiet: Bool { slots.allSatisfy(\.isQuiet) }

    /// The slots' current processes, for signalling and status.
    var liveProcesses: [WorkerProcess] { slots.compactMap(\.process) }

    /// Current processes that are ready and not stopping: what serves.
    var readyCount: Int { slots.prefix(config.count).filter { $0.process?.isReady == true }.count }
}
