import Shared

/// How a slot's last process ended, kept for status and for the log.
public struct LastExit: Sendable, Equatable {
    public enum Cause: Sendable, Equatable {
        case exited(ExitStatus)
        case spawnFailed(String)
    }
    public internal(set) var cause: Cause
    public internal(set) var at: MonotonicInstant
    public internal(set) var uptime: Double
    /// Why appd had asked it to stop; nil when it ended on its own.
    public internal(set) var stopReason: StopReason?
    /// Set when the fatal signal was appd's own SIGKILL after stopTimeout.
    public internal(set) var killedAfterTimeout: Double?

    public var description: String {
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

/// Why a slot holds no process and expects none.
public enum SlotFinish: Sendable, Equatable {
    /// It exited with success and its restart policy (`on-failure`,
    /// `never`) says that is the end: a one-shot job done.
    case completed
    /// It failed and is not restarted: `restart: never`, or more than
    /// `maxRestarts` restarts within `restartWindow`. `reason` says which,
    /// with the last exit.
    case failed(reason: String)
}

/// Which of a slot's processes a pid is.
public enum ProcessRole: Sendable, Equatable {
    /// The slot's process: serving, or on its way to.
    case current
    /// A start-first reload's replacement, starting beside `current`.
    case successor
    /// Replaced by its successor and stopping.
    case outgoing
}

/// A worker id's place in its group. Ids are reused: a replacement takes the
/// id of the process it replaces (Workerman's idMap), so a worker can shard
/// work or pick a port by `APP_WORKER_ID` and keep it across restarts.
///
/// During a start-first reload a slot briefly holds two processes of one
/// id: the current one serving and its successor starting; once the
/// successor is ready it becomes current and the old one is outgoing until
/// it exits.
public struct WorkerSlot: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Nothing running and nothing planned: the group is stopped.
        case empty
        /// A `.spawn` effect is out; the shell answers before the next event.
        case spawning
        case live(WorkerProcess)
        /// Waiting out the restart backoff.
        case backingOff(until: MonotonicInstant)
        /// Its process ended and, by the group's restart policy or restart
        /// limit, no other follows until the operator asks (start, restart,
        /// reload).
        case finished(SlotFinish)
    }

    /// A successor is spawned and answered within one call, so outside the
    /// core it is always live; `.spawning` exists only between the two.
    public enum Successor: Sendable, Equatable {
        case spawning
        case live(WorkerProcess)
    }

    public let id: Int
    public internal(set) var state: State = .empty
    public internal(set) var successor: Successor?
    public internal(set) var outgoing: WorkerProcess?
    /// Respawns after exits appd did not ask for (or had to force).
    public internal(set) var restarts = 0
    /// Quick deaths in a row, for `RestartBackoff`.
    public internal(set) var consecutiveFailures = 0
    /// When the restarts after failures within the group's `restartWindow`
    /// happened, for its `maxRestarts`.
    public internal(set) var recentRestarts: [MonotonicInstant] = []
    public internal(set) var lastExit: LastExit?

    public init(id: Int) { self.id = id }

    public var process: WorkerProcess? {
        if case .live(let process) = state { return process }
        return nil
    }

    public var isBackingOff: Bool {
        if case .backingOff = state { return true }
        return false
    }

    public var finish: SlotFinish? {
        if case .finished(let finish) = state { return finish }
        return nil
    }

    public var liveSuccessor: WorkerProcess? {
        if case .live(let process) = successor { return process }
        return nil
    }

    /// Every live process of the slot, current first.
    public var processes: [WorkerProcess] { [process, liveSuccessor, outgoing].compactMap { $0 } }

    /// Nothing running, starting or stopping here.
    public var isQuiet: Bool {
        guard successor == nil, outgoing == nil else { return false }
        switch state {
        case .empty, .backingOff, .finished: return true
        case .spawning, .live: return false
        }
    }

    /// The operator asked for a fresh start: the failure streak and the
    /// restart history behind a backoff or a give-up are forgotten.
    mutating func forgetFailures() {
        consecutiveFailures = 0
        recentRestarts.removeAll()
    }

    public func role(of pid: Int32) -> ProcessRole? {
        if process?.pid == pid { return .current }
        if liveSuccessor?.pid == pid { return .successor }
        if outgoing?.pid == pid { return .outgoing }
        return nil
    }

    subscript(role: ProcessRole) -> WorkerProcess? {
        switch role {
        case .current: return process
        case .successor: return liveSuccessor
        case .outgoing: return outgoing
        }
    }

    /// Replaces the process in `role`, which must be there.
    mutating func update(_ role: ProcessRole, _ process: WorkerProcess) {
        assert(self[role]?.pid == process.pid, "slot \(id) has no \(role) pid \(process.pid)")
        switch role {
        case .current: state = .live(process)
        case .successor: successor = .live(process)
        case .outgoing: outgoing = process
        }
    }
}
