import Shared

/// Something the core wants done; the shell carries it out in order.
public enum SupervisorEffect: Sendable, Equatable {
    /// Start a process for this slot, then feed back `.spawned` or `.spawnFailed`.
    case spawn(SpawnOrder)
    /// A signal for the process alone (SIGUSR1 for a non-reloadable
    /// worker, `appctl signal`, SIGABRT for a hung one).
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

/// What to start: the slot, in which role, and the group's configuration
/// and generation at the time.
public struct SpawnOrder: Sendable, Equatable {
    public internal(set) var worker: WorkerRef
    /// `.current`, or `.successor` for a start-first reload's replacement.
    public internal(set) var role: ProcessRole
    public internal(set) var generation: Int
    public internal(set) var config: GroupConfig
}

/// A line for the daemon's log. A record about one worker names it (and
/// its process, when one ran): the shell then also puts the line in that
/// group's history and log file, between the lines the worker printed, so
/// `appctl logs crasher` shows its traceback followed by how it ended.
public struct LogRecord: Sendable, Equatable, CustomStringConvertible {
    public enum Level: String, Sendable { case info, warning, error }
    public internal(set) var level: Level
    /// For a record about a worker, what happened to it without naming it
    /// ("exited 3 after 2s"); `text` puts the worker in front.
    public internal(set) var message: String
    /// The worker the record is about; nil for the daemon's own lines.
    public internal(set) var worker: WorkerRef?
    /// Its process, when one ran (a spawn failure or a backoff has none).
    public internal(set) var pid: Int32?

    public init(level: Level, message: String, worker: WorkerRef? = nil, pid: Int32? = nil) {
        self.level = level
        self.message = message
        self.worker = worker
        self.pid = pid
    }

    /// `web#0[4711]`, or `web#0` without a process: the one spelling of a
    /// worker in every log, so `grep 'web#0'` finds all of its lines.
    public var workerLabel: String? {
        worker.map { worker in pid.map { "\(worker)[\($0)]" } ?? "\(worker)" }
    }

    /// The line as the daemon's log says it: "worker web#0[4711] exited 3 after 2s".
    public var text: String { workerLabel.map { "worker \($0) \(message)" } ?? message }

    public var description: String { "[\(level.rawValue)] \(text)" }
}

/// Milestones of long-running requests, routed by the shell to the clients
/// that asked.
public enum SupervisorNotice: Sendable, Equatable {
    /// A reload was accepted and will report on exactly these groups, each
    /// with one `reloadFinished`.
    case reloadBegan(groups: [String])
    /// One slot of a rolling reload now runs a ready process of the new
    /// generation; `oldPid` is nil when the slot was not running before.
    case replaced(WorkerRef, oldPid: Int32?, newPid: Int32)
    /// A reload of this group ended.
    case reloadFinished(group: String, ReloadResult)
    /// Every process of this group has exited after a stop.
    case groupStopped(String)
}
