import Shared
import SupervisorCore

/// Every worker's process group, from its spawn until its last member is
/// gone, and the orphan guard that SIGKILLs them all if the master dies.
///
/// Each worker leads its own process group (its pgid is its pid). When the
/// leader is reaped while members run on (`LingeringGroups`), they get the
/// worker's stop signal at once and SIGKILL after its stopTimeout, whatever
/// ended the leader. The orphan guard is told of a group at spawn and
/// forgets it only once the group is empty, since a group id cannot be
/// reused before.
final class ProcessGroupWatch {
    /// What the watch needs of a spawned worker to stop what it leaves.
    private struct Leader {
        var label: String
        var stopSignal: UnixSignal
        var stopTimeout: Double
    }

    private let log: DaemonLog
    private(set) var orphanGuard: OrphanGuard
    /// Live leaders, by pid (= pgid).
    private var leaders: [Int32: Leader] = [:]
    /// Exited leaders' groups that still have members.
    private var lingering = LingeringGroups()

    init(orphanGuard: OrphanGuard, log: DaemonLog) {
        self.orphanGuard = orphanGuard
        self.log = log
    }

    var nextDeadline: MonotonicInstant? { lingering.nextDeadline }

    var lingeringCount: Int { lingering.pgids.count }

    func leaderStarted(_ pid: Int32, label: String, group: GroupConfig) {
        orphanGuard.workerStarted(pid)
        leaders[pid] = Leader(label: label, stopSignal: group.stopSignal, stopTimeout: group.stopTimeout)
    }

    /// What a reaped child was.
    enum Reaped: Equatable {
        /// The orphan guard; a new one has been started in its place.
        case orphanGuard
        /// A worker, or a process reparented to the master.
        /// `leftInGroup`: members of its process group still run; they are
        /// being stopped, and `releaseEmptyGroups` names the group once empty.
        case process(leftInGroup: Bool)
    }

    func reaped(_ pid: Int32, status: ExitStatus, now: MonotonicInstant) -> Reaped {
        if pid == orphanGuard.pid {
            replaceOrphanGuard(after: status)
            return .orphanGuard
        }
        guard let leader = leaders.removeValue(forKey: pid) else { return .process(leftInGroup: false) }
        return .process(leftInGroup: stopWhatTheLeaderLeft(pgid: pid, leader: leader, now: now))
    }

    /// A worker's leader was reaped (`pgid` is its pid): whatever still runs
    /// in its process group gets the group's stop signal now and SIGKILL
    /// after its stopTimeout. Says whether anything was left.
    private func stopWhatTheLeaderLeft(pgid: Int32, leader: Leader, now: MonotonicInstant) -> Bool {
        guard ProcessControl.processGroupExists(pgid) else {
            orphanGuard.workerExited(pgid)
            return false
        }
        log.warning("worker \(leader.label) exited, but processes of its process group still run; sending them \(leader.stopSignal), "
                    + "SIGKILL in \(HumanFormat.duration(seconds: leader.stopTimeout))")
        ProcessControl.sendToProcessGroup(leader.stopSignal, leader: pgid)
        lingering.leaderExited(pgid, worker: leader.label, stopTimeout: leader.stopTimeout, now: now)
        return true
    }

    /// SIGKILL for the lingering groups whose stopTimeout has passed.
    func killDue(now: MonotonicInstant) {
        for (pgid, worker) in lingering.takeDue(now: now) where ProcessControl.processGroupExists(pgid) {
            log.warning("processes left by worker \(worker) still run after the stop signal; sending SIGKILL to its process group")
            ProcessControl.sendToProcessGroup(.kill, leader: pgid)
        }
    }

    /// Forgets the lingering groups that have emptied (their members were
    /// reaped by the master, their subreaper), and names them.
    func releaseEmptyGroups() -> [Int32] {
        let emptied = lingering.pgids.filter { !ProcessControl.processGroupExists($0) }
        for pgid in emptied {
            lingering.remove(pgid)
            orphanGuard.workerExited(pgid)
        }
        return emptied
    }

    /// Without its guard a master killed by SIGKILL would leave orphans: a
    /// new guard is started and told every group the old one knew.
    private func replaceOrphanGuard(after status: ExitStatus) {
        log.error("the orphan guard (pid \(orphanGuard.pid)) died: \(status); starting a new one")
        orphanGuard.close()
        do {
            orphanGuard = try OrphanGuard.start()
            for pgid in Set(leaders.keys).union(lingering.pgids) { orphanGuard.workerStarted(pgid) }
        } catch {
            log.error("cannot start a new orphan guard: \(error)")
        }
    }

    /// Every worker has exited, but what they forked and left behind was
    /// re-parented to the master (child subreaper): no child outlives it.
    func killLeftoverChildren() {
        for pid in ProcessControl.children() where pid != orphanGuard.pid {
            log.warning("killing pid \(pid), left behind by a worker")
            ProcessControl.sendToProcessGroup(.kill, leader: pid)
            ProcessControl.send(.kill, to: pid)
            _ = ProcessControl.reapOne(pid)
        }
    }
}
