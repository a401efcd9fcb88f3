import Shared

/// Identifies a worker slot: a group and a worker id in `0..<count`.
public struct WorkerRef: Hashable, Sendable, CustomStringConvertible {
    public internal(set) var group: String
    public internal(set) var id: Int

    public var description: String { "\(group)#\(id)" }
}

/// Something that happened, fed by the shell into the core.
public enum SupervisorEvent: Sendable, Equatable {
    /// `waitpid` reported this pid; it may also be a reparented grandchild.
    /// `leftInGroup`: members of its process group still run (a command
    /// that forked and exited); the shell stops them and says
    /// `processGroupEmptied` once they are gone.
    case childExited(pid: Int32, status: ExitStatus, leftInGroup: Bool = false)
    /// The process group a worker left behind (`leftInGroup`) is empty.
    case processGroupEmptied(pgid: Int32)
    /// The shell carried out a `.spawn` effect and the process exists.
    case spawned(WorkerRef, ProcessRole, pid: Int32)
    /// The shell could not start the process (exec failed, no such file...).
    case spawnFailed(WorkerRef, ProcessRole, reason: String)
    /// The shell dropped a spawn that waited for its turn and that the core
    /// no longer wanted (`Supervisor.orderToCarryOut`).
    case spawnCancelled(WorkerRef, ProcessRole)
    /// The worker (or a process of its process group) sent READY=1.
    case ready(pid: Int32)
    /// The worker sent WATCHDOG=1: it is alive.
    case watchdog(pid: Int32)
    /// The shell measured a live worker's memory (its whole process tree,
    /// in bytes); sent only for groups with `maxMemory` (`MemoryRule`).
    case memorySample(pid: Int32, bytes: UInt64)
    /// The deadline timer fired: the core checks every deadline against `now`.
    case deadlinesDue
}

/// Something an operator asked for, by signal or over the control socket.
/// Both paths go through the same request, so `kill -USR1` and
/// `appctl reload` behave identically.
public enum SupervisorRequest: Sendable, Equatable {
    /// Stop every group and exit (SIGINT, SIGTERM, `appctl stop`).
    case stopDaemon
    /// Apply `config` (when given: groups added, removed, resized,
    /// reconfigured), then roll `group` or every group.
    case reload(group: String?, config: DaemonConfig?)
    /// Stop and start at once, not rolling.
    case restart(group: String?)
    case stopGroup(String)
    case startGroup(String)
    case scale(group: String, count: Int)
    case signal(group: String?, UnixSignal)
}

/// Why the core refused a request; the shell turns it into an error reply.
public enum RequestRejection: Error, Equatable, CustomStringConvertible {
    case unknownGroup(String)
    case reloadInProgress(group: String)
    case daemonStopping
    case invalidCount(Int)
    /// `start` of a group that is not stopped: nothing would change.
    case alreadyRunning(String)
    /// `stop` of a group that is stopped and has no process left.
    case alreadyStopped(String)
    /// `signal` with no live process to send it to (nil: every group).
    case noProcesses(group: String?)
    /// `scale` to the count the group already has.
    case alreadyAtCount(group: String, count: Int)

    public var description: String {
        switch self {
        case .unknownGroup(let name): return "no group named '\(name)'"
        case .reloadInProgress(let group): return "group '\(group)' is already reloading"
        case .daemonStopping: return "the daemon is stopping"
        case .invalidCount(let count): return "count must be 0 or more, got \(count)"
        case .alreadyRunning(let name):
            return "group '\(name)' is already running; nothing was started (`appctl restart \(name)` starts its processes afresh)"
        case .alreadyStopped(let name): return "group '\(name)' is already stopped; nothing was stopped"
        case .noProcesses(let group?): return "no processes to signal: group '\(group)' has no running process"
        case .noProcesses(nil): return "no processes to signal: no group has a running process"
        case .alreadyAtCount(let group, let count):
            return "group '\(group)' is already scaled to \(counted(count, "process", "processes")); nothing was scaled"
        }
    }
}
