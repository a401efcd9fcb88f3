import Shared

/// Why appd asked a process to stop; decides what happens when it exits.
enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// Its group or the daemon is stopping, or the slot was scaled away.
    case shutdown
    /// Replaced by a rolling reload.
    case reload
    /// `restart`: stop and start again at once.
    case restart
    /// It did not become ready within readyTimeout.
    case notReady

    var description: String {
        switch self {
        case .shutdown: return "stop"
        case .reload: return "reload"
        case .restart: return "restart"
        case .notReady: return "readiness timeout"
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

/// One live process of a slot.
struct WorkerProcess: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        /// Spawned, not ready yet; `readyBy` is the readiness deadline
        /// (`afterSeconds` readiness: the moment it counts as ready).
        case starting(readyBy: MonotonicInstant)
        case running(readySince: MonotonicInstant)
        case stopping(StopOrder)
    }

    var pid: Int32
    /// The group's generation when it was spawned; a rolling reload replaces
    /// every process older than the group's current generation.
    var generation: Int
    var startedAt: MonotonicInstant
    var phase: Phase
    var becameReady = false

    var isStopping: Bool {
        if case .stopping = phase { return true }
        return false
    }
}

/// How a slot's last process ended, kept for status and for the log.
struct LastExit: Sendable, Equatable {
    enum Cause: Sendable, Equatable {
        case exited(ExitStatus)
        case spawnFailed(String)
    }
    var cause: Cause
    var at: MonotonicInstant
    var uptime: Double
    /// Set when the fatal signal was appd's own SIGKILL after stopTimeout.
    var killedAfterTimeout: Double?

    var description: String {
        switch cause {
        case .spawnFailed(let reason): return "failed to start: \(reason)"
        case .exited(let status):
            if let timeout = killedAfterTimeout, case .killed(let signal, _) = status, signal == .kill {
                return "\(status) (sent by appd after stopTimeout \(HumanFormat.duration(seconds: timeout)))"
            }
            return status.description
        }
    }
}

/// A worker id's place in its group. Ids are reused: a replacement takes the
/// id of the process it replaces (Workerman's idMap), so a worker can shard
/// work or pick a port by `APP_WORKER_ID` and keep it across restarts.
struct WorkerSlot: Sendable, Equatable {
    enum State: Sendable, Equatable {
        /// Nothing running and nothing planned: the group is stopped.
        case empty
        /// A `.spawn` effect is out; the shell answers before the next event.
        case spawning
        case live(WorkerProcess)
        /// Waiting out the restart backoff.
        case backingOff(until: MonotonicInstant)
    }

    let id: Int
    var state: State = .empty
    /// Respawns after exits appd did not ask for.
    var restarts = 0
    /// Quick deaths in a row, for `RestartBackoff`.
    var consecutiveFailures = 0
    var lastExit: LastExit?

    init(id: Int) { self.id = id }

    var process: WorkerProcess? {
        if case .live(let process) = state { return process }
        return nil
    }

}
