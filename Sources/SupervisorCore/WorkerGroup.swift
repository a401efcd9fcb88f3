import Shared

/// A group's runtime state: its configuration, its slots, what the operator
/// wants of it, and its exit tally.
public struct WorkerGroup: Sendable, Equatable {
    public internal(set) var config: GroupConfig
    /// Indexed by worker id: `slots[i].id == i`. Slots beyond `count` linger
    /// only while their process stops after a scale-down, and always form a
    /// suffix, so the indexing holds.
    public internal(set) var slots: [WorkerSlot]
    /// false after `stop group` or when removed by a reload: no respawns.
    public internal(set) var wantsRunning = true
    /// Removed from the config by a reload: dropped once its slots are empty.
    public internal(set) var retiring = false
    /// Raised by every reload; processes of older generations get replaced.
    public internal(set) var generation = 0
    public internal(set) var reload: RollingReload?
    public internal(set) var exits = ExitTally()
    /// Why the last reload failed; cleared when a later one completes.
    public internal(set) var degradedReason: String?
    public internal(set) var intensity = RestartIntensity()
    /// Restarts are held back until then: the group restarts too often.
    /// Cleared when that moment's deadline is processed, or by a start or restart.
    public internal(set) var restartsHeldUntil: MonotonicInstant?
    /// How the last reload of the group ended, and when (for `describe`).
    public internal(set) var lastReload: FinishedReload?
    /// The groups of `dependsOn` not ready yet: the group was asked to
    /// start and waits for them (`Supervisor+Dependencies`).
    public internal(set) var waitingFor: [String] = []
    /// The daemon is stopping and this group waits until the groups that
    /// depend on it have stopped.
    public internal(set) var stopsAfterDependents = false
    /// How every reload of the group ended, counted (for metrics).
    public internal(set) var reloads = ReloadTally()

    public init(config: GroupConfig) {
        self.config = config
        self.slots = (0..<config.count).map(WorkerSlot.init(id:))
    }

    public var name: String { config.name }

    public var isQuiet: Bool { slots.allSatisfy(\.isQuiet) }

    /// The slots' current processes, for signalling and status.
    public var liveProcesses: [WorkerProcess] { slots.compactMap(\.process) }

    /// Current processes that are ready and not stopping: what serves.
    public var readyCount: Int { slots.prefix(config.count).filter { $0.process?.isReady == true }.count }

    /// Current processes on their way to ready: spawned, not ready, not stopping.
    public var startingCount: Int {
        // Not `process.map { ... } == true`: that form crashes the Swift 6.3.1
        // optimizer (CopyPropagation's ownership check) in a release build.
        slots.prefix(config.count).filter { slot in
            guard let process = slot.process else { return false }
            return !process.isReady && !process.isStopping
        }.count
    }

    /// Worker ids waiting out a restart backoff: nothing runs there.
    public var backingOffCount: Int {
        slots.prefix(config.count).filter(\.isBackingOff).count
    }

    /// Worker ids whose process ended for good (completed or failed).
    public var finishedCount: Int { slots.prefix(config.count).filter { $0.finish != nil }.count }

    /// Worker ids that failed and are not restarted.
    public var failedCount: Int {
        slots.prefix(config.count).filter { if case .failed = $0.finish { true } else { false } }.count
    }

    /// Worker ids whose one-shot process completed.
    public var completedCount: Int { slots.prefix(config.count).filter { $0.finish == .completed }.count }

    /// Why the group does not serve as configured, for status: the failed
    /// reload, then the processes backing off and how the latest of them
    /// ended. Empty when nothing is wrong (processes merely starting are
    /// not a problem).
    public var problems: [String] {
        var problems: [String] = []
        if let degradedReason { problems.append("the last reload failed: \(degradedReason)") }
        if restartsHeldUntil != nil { problems.append("restarts held back: the group restarts too often") }
        let backingOff = slots.prefix(config.count).filter(\.isBackingOff)
        if !backingOff.isEmpty {
            let who = config.count == 1
                ? "its process is"
                : "\(backingOff.count) of \(config.count) processes \(backingOff.count == 1 ? "is" : "are")"
            let latest = backingOff.compactMap(\.lastExit).max { $0.at < $1.at }
            problems.append("\(who) waiting to restart after failing" + (latest.map { " (last: \($0.description))" } ?? ""))
        }
        let failed = slots.prefix(config.count).compactMap { slot -> String? in
            if case .failed(let reason) = slot.finish { reason } else { nil }
        }
        if let reason = failed.last {
            let who = config.count == 1 ? "its process failed and is" : "\(failed.count) of \(config.count) processes failed and are"
            problems.append("\(who) not restarted (\(failed.count == 1 ? "" : "last: ")\(reason)); appctl start \(name) retries")
        }
        return problems
    }
}
