import Shared

/// One slot being replaced by a rolling reload, and how far it got.
public struct ReloadStep: Sendable, Equatable {
    public enum Phase: Sendable, Equatable {
        /// Start-first: the successor runs beside the old process until ready.
        case successorStarting
        /// Start-first: the successor took over; the old process is stopping.
        case oldDraining
        /// Stop-first: the old process is stopping; its successor starts once it exits.
        case oldStopping
        /// The slot's new process is starting (stop-first after the old one
        /// exited, a slot that was not running, or a successor whose old
        /// process died on its own meanwhile).
        case replacementStarting
    }

    public let slot: Int
    /// The process being replaced; nil when the slot was not running.
    public let oldPid: Int32?
    public internal(set) var phase: Phase
}

/// A rolling reload in progress for one group.
///
/// It carries no list of pids: the group's `generation` says which processes
/// are out of date, so a process that crashed and came back mid-reload is
/// already current and skipped. A second reload asked meanwhile is refused
/// (`busy`); the shell queues one asked by signal until this one ends.
public struct RollingReload: Sendable, Equatable {
    public let strategy: ReloadStrategy
    /// Slots in flight at once: `maxSurge` start-first, one stop-first.
    public let width: Int
    public internal(set) var steps: [ReloadStep] = []
    public internal(set) var result = ReloadResult(outcome: .completed)
    /// The group's settings before this reload applied new ones: restored
    /// when the reload fails, so a crash of a process that was never
    /// replaced respawns the release that worked, not the one that failed.
    public let rollback: GroupConfig?
    /// When the reload began, for its duration.
    public let begunAt: MonotonicInstant

    public init(strategy: ReloadStrategy, maxSurge: Int, rollback: GroupConfig?, notes: [String], begunAt: MonotonicInstant) {
        self.strategy = strategy
        self.begunAt = begunAt
        self.width = strategy == .startFirst ? maxSurge : 1
        self.rollback = rollback
        self.result.notes = notes
    }

    public func stepIndex(slot: Int) -> Int? { steps.firstIndex { $0.slot == slot } }
}

/// How one group's reload ended, for the log and the requester.
public struct ReloadResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Every out-of-date process was replaced.
        case completed
        /// A non-reloadable group: each process got SIGUSR1 and kept running.
        case signalled(processes: Int)
        /// Stopped early; the processes not yet replaced keep serving.
        case aborted(reason: String)
    }
    public internal(set) var outcome: Outcome
    /// Processes replaced by a ready successor.
    public internal(set) var replaced = 0
    /// Slots that were not running (backing off) and were started.
    public internal(set) var started = 0
    /// What the operator should know: a count the config changed, a
    /// setting that needs a restart to apply.
    public internal(set) var notes: [String] = []
    /// The process whose failure aborted the reload, when there was one:
    /// the shell adds its last lines of output to the report.
    public internal(set) var failedPid: Int32?
}

/// A group's reload that ended: when, how, and how long it took (0 for a
/// reload that ended at once: a new, stopped or non-reloadable group).
public struct FinishedReload: Sendable, Equatable {
    public internal(set) var at: MonotonicInstant
    public internal(set) var result: ReloadResult
    /// Seconds from the reload's start to its end.
    public internal(set) var duration: Double
}
