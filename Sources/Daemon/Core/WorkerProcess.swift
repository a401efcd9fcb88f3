import Shared

/// Why appd asked a process to stop; decides what its exit means.
enum StopReason: Sendable, Equatable, CustomStringConvertible {
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

    /// The failure this stop stands for; nil when appd stopped a process
    /// that was doing nothing wrong.
    var failure: FailureKind? {
        switch self {
        case .notReady: return .notReady
        case .watchdog: return .watchdog
        case .shutdown, .scaledDown, .reload, .reloadAborted, .restart: return nil
        }
    }

    var description: String {
        switch self {
        case .shutdown: return "stop"
        case .scaledDown: return "scale-down"
        case .reload: return "reload"
        case .reloadAborted: return "reload aborted"
        case .restart: return "restart"
        case .notReady: return "readiness timeout"
        case .watchdog: return "watchdog"
        }
    }

    /// How `status` names it (`ProcessStatus.LastExit.requested`): stable
    /// words for scripts, one per reason.
    var key: String {
        switch self {
        case .shutdown: return "stop"
        case .scaledDown: return "scale"
        case .reload: return "reload"
        case .reloadAborted: return "reloadAborted"
        case .restart: return "restart"
        case .notReady: return "notReady"
        case .watchdog: return "watchdog"
        }
    }
}

/// A stop in progress: the signal sent, and when SIGKILL follows.
struct StopOrder: Sendable, Equatable {
    var reason: StopReason
    var signal: UnixSignal
    var stopTimeout: Double
    var killAt: MonotonicInstant
    var killSent = false
}

/// One live process: a slot's current process, a reload's successor
/// beside it, or an outgoing process stopping after its successor took over.
struct WorkerProcess: Sendable, Equatable {
    /// Where the process stands. Each readiness rule has its own phase, so
    /// a deadline means one thing only.
    enum Phase: Sendable, Equatable {
        /// `readiness: "notify"`: waiting for READY=1 until `deadline`.
        case awaitingReady(deadline: MonotonicInstant)
        /// `readiness: {afterSeconds}`: counts as ready at `readyAt` if it is still up.
        case warmingUp(readyAt: MonotonicInstant)
        /// Serving. `watchdogDue`: when the next WATCHDOG=1 must have come
        /// (nil: the group has no watchdog).
        case ready(watchdogDue: MonotonicInstant?)
        case stopping(StopOrder)
    }

    var pid: Int32
    /// The group's generation when it was spawned (`APP_WORKER_GENERATION`);
    /// a rolling reload replaces every process older than the group's.
    var generation: Int
    var startedAt: MonotonicInstant
    var phase: Phase
    /// When it became ready; nil if it never did. Kept while it stops: a
    /// process that was ready had a healthy start, whatever ends it.
    var readySince: MonotonicInstant?

    var isStopping: Bool {
        if case .stopping = phase { return true }
        return false
    }

    var stopOrder: StopOrder? {
        if case .stopping(let order) = phase { return order }
        return nil
    }

    var isReady: Bool {
        if case .ready = phase { return true }
        return false
    }

    /// The one moment this process needs attention without an event, and
    /// what is due then. Both `Supervisor.nextDeadline` and the deadline
    /// processing read it, so they cannot disagree.
    var deadline: (at: MonotonicInstant, due: ProcessDeadline)? {
        switch phase {
        case .awaitingReady(let deadline): return (deadline, .readinessTimeout)
        case .warmingUp(let readyAt): return (readyAt, .warmedUp)
        case .ready(let watchdogDue): return watchdogDue.map { ($0, .watchdogExpired) }
        case .stopping(let order): return order.killSent ? nil : (order.killAt, .stopTimeout)
        }
    }
}

/// What falls due at a process's deadline.
enum ProcessDeadline: Sendable, Equatable {
    case readinessTimeout
    case warmedUp
    case watchdogExpired
    case stopTimeout
}
