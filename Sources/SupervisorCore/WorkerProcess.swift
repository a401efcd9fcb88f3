import Shared

/// Why appd asked a process to stop; decides what its exit means.
public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// Its group or the daemon is stopping.
    case shutdown
    /// `scale` lowered the count below its worker id.
    case scaledDown
    /// Replaced by a rolling reload.
    case reload
    /// A reload failed elsewhere in the group: this successor is not needed.
    case reloadAborted
    /// `restart`: stop and start again at once.
    case restart
    /// It did not become ready within its readiness deadline.
    case notReady
    /// It stopped sending WATCHDOG=1: hung.
    case watchdog
    /// Its memory stayed above the group's `maxMemory` (`MemoryRule`).
    case memoryLimit

    /// The failure this stop stands for; nil when appd stopped a process
    /// that was doing nothing wrong.
    public var failure: FailureKind? {
        switch self {
        case .notReady: return .notReady
        case .watchdog: return .watchdog
        case .memoryLimit: return .memoryLimit
        case .shutdown, .scaledDown, .reload, .reloadAborted, .restart: return nil
        }
    }

    public var description: String {
        switch self {
        case .shutdown: return "stop"
        case .scaledDown: return "scale-down"
        case .reload: return "reload"
        case .reloadAborted: return "reload aborted"
        case .restart: return "restart"
        case .notReady: return "readiness timeout"
        case .watchdog: return "watchdog"
        case .memoryLimit: return "memory limit"
        }
    }

    /// How `status` names it (`ProcessStatus.LastExit.requested`): stable
    /// words for scripts, one per reason.
    public var key: String {
        switch self {
        case .shutdown: return "stop"
        case .scaledDown: return "scale"
        case .reload: return "reload"
        case .reloadAborted: return "reloadAborted"
        case .restart: return "restart"
        case .notReady: return "notReady"
        case .watchdog: return "watchdog"
        case .memoryLimit: return "memoryLimit"
        }
    }
}

/// A stop in progress: the signal sent, and when SIGKILL follows.
public struct StopOrder: Sendable, Equatable {
    public internal(set) var reason: StopReason
    public internal(set) var signal: UnixSignal
    public internal(set) var stopTimeout: Double
    public internal(set) var killAt: MonotonicInstant
    public internal(set) var killSent = false
}

/// One live process: a slot's current process, a reload's successor
/// beside it, or an outgoing process stopping after its successor took over.
public struct WorkerProcess: Sendable, Equatable {
    /// Where the process stands. Each readiness rule has its own phase, so
    /// a deadline means one thing only.
    public enum Phase: Sendable, Equatable {
        /// `readiness: "notify"`: waiting for READY=1 until `deadline`.
        case awaitingReady(deadline: MonotonicInstant)
        /// `readiness: {afterSeconds}`: counts as ready at `readyAt` if it is still up.
        case warmingUp(readyAt: MonotonicInstant)
        /// Serving. `watchdogDue`: when the next WATCHDOG=1 must have come
        /// (nil: the group has no watchdog).
        case ready(watchdogDue: MonotonicInstant?)
        case stopping(StopOrder)
    }

    public internal(set) var pid: Int32
    /// The group's generation when it was spawned (`APP_WORKER_GENERATION`);
    /// a rolling reload replaces every process older than the group's.
    public internal(set) var generation: Int
    public internal(set) var startedAt: MonotonicInstant
    public internal(set) var phase: Phase
    /// When it became ready; nil if it never did. Kept while it stops: a
    /// process that was ready had a healthy start, whatever ends it.
    public internal(set) var readySince: MonotonicInstant?
    /// Memory samples in a row above the group's `maxMemory` (`MemoryRule`).
    public internal(set) var samplesAboveMemoryLimit = 0

    public var isStopping: Bool {
        if case .stopping = phase { return true }
        return false
    }

    public var stopOrder: StopOrder? {
        if case .stopping(let order) = phase { return order }
        return nil
    }

    public var isReady: Bool {
        if case .ready = phase { return true }
        return false
    }

    /// The one moment this process needs attention without an event, and
    /// what is due then. Both `Supervisor.nextDeadline` and the deadline
    /// processing read it, so they cannot disagree.
    public var deadline: (at: MonotonicInstant, due: ProcessDeadline)? {
        switch phase {
        case .awaitingReady(let deadline): return (deadline, .readinessTimeout)
        case .warmingUp(let readyAt): return (readyAt, .warmedUp)
        case .ready(let watchdogDue): return watchdogDue.map { ($0, .watchdogExpired) }
        case .stopping(let order): return order.killSent ? nil : (order.killAt, .stopTimeout)
        }
    }
}

/// What falls due at a process's deadline.
public enum ProcessDeadline: Sendable, Equatable {
    case readinessTimeout
    case warmedUp
    case watchdogExpired
    case stopTimeout
}
