import Shared
import SupervisorCore

/// Process groups of workers whose leader has exited while other members
/// run on: a command that forks and exits (`sh -c 'sleep 1000 & exit 0'`, a
/// program that daemonizes), or helpers that outlived their worker.
///
/// Each worker leads its own process group, so what it left behind is
/// found by its group id. Left alone, every restart of such a command would
/// add one process (and keep the master's end of its output pipes open) for
/// ever. So the members get the group's stop signal as soon as the leader
/// is reaped, and SIGKILL after its stopTimeout, whatever ended the leader
/// (stop, reload, scale-down, crash). The group is tracked until it is empty;
/// the orphan guard keeps it listed till then.
struct LingeringGroups {
    struct Group {
        /// `web#0[4711]`, for the log.
        var worker: String
        /// When SIGKILL is due; nil once sent.
        var killAt: MonotonicInstant?
    }

    private(set) var groups: [Int32: Group] = [:]

    var pgids: Dictionary<Int32, Group>.Keys { groups.keys }

    /// The leader of `pgid` was reaped and members remain.
    mutating func leaderExited(_ pgid: Int32, worker: String, stopTimeout: Double, now: MonotonicInstant) {
        groups[pgid] = Group(worker: worker, killAt: now.adding(seconds: stopTimeout))
    }

    var nextDeadline: MonotonicInstant? { groups.values.compactMap(\.killAt).min() }

    /// Groups whose SIGKILL is due now; each is returned once.
    mutating func takeDue(now: MonotonicInstant) -> [(pgid: Int32, worker: String)] {
        var due: [(pgid: Int32, worker: String)] = []
        for (pgid, group) in groups {
            if let killAt = group.killAt, killAt <= now {
                groups[pgid]?.killAt = nil
                due.append((pgid, group.worker))
            }
        }
        return due
    }

    mutating func remove(_ pgid: Int32) { groups[pgid] = nil }
}
