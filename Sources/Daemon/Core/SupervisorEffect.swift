import Shared

/// Something the core wants done; the shell carries it out in order.
enum SupervisorEffect: Sendable, Equatable {
    /// Start a process for this slot, then feed back `.spawned` or `.spawnFailed`.
    case spawn(SpawnOrder)
    /// A signal for the process alone (SIGUSR1 for a non-reloadable
    /// worker, `appctl signal`).
    case signal(pid: Int32, UnixSignal)
    /// A stop or kill signal for the process and its whole process group
    /// (each worker leads its own), so helpers it forked stop with it
    /// instead of outliving it — supervisord's stopasgroup/killasgroup.
    case signalProcessGroup(leader: Int32, UnixSignal)
    case log(LogRecord)
    /// A milestone that control clients may be waiting for.
    case notice(SupervisorNotice)
    /// Every process is gone after a daemon stop: clean up and exit.
    case exit(code: Int32)
}

/// What to start: the slot, and the group's configuration at the time.
struct SpawnOrder: Sendable, Equatable {
    var worker: WorkerRef
    var config: GroupConfig
}

struct LogRecord: Sendable, Equatable, CustomStringConvertible {
    enum Level: String, Sendable { case info, warning, error }
    var level: Level
    var message: String

    var description: String { "[\(level.rawValue)] \(message)" }
}

/// Milestones of long-running requests, routed by the shell to the clients
/// that asked.
enum SupervisorNotice: Sendable, Equatable {
    /// One process of a rolling reload was replaced and the new one is ready.
    case replaced(WorkerRef, oldPid: Int32, newPid: Int32)
    /// A reload of this group ended.
    case reloadFinished(group: String, ReloadOutcome)
    /// Every process of this group has exited after a stop.
    case groupStopped(String)
}

enum ReloadOutcome: Sendable, Equatable {
    /// Every process was replaced (count given).
    case completed(replaced: Int)
    /// A non-reloadable group: each process got SIGUSR1 and kept running.
    case signalled(processes: Int)
    /// Stopped early; the processes not yet replaced keep serving.
    case aborted(reason: String, replaced: Int)
}
