import Glibc
import Shared
import SupervisorCore

/// Every worker's process group, and its cgroup where appd has cgroups
/// (`CgroupTree`), from its spawn until its last member is gone, and the
/// orphan guard that SIGKILLs them all if the master dies.
///
/// With a cgroup, "its members" are everything in the worker's cgroup, so a
/// descendant that left the process group with `setsid` is stopped, killed
/// and waited for like the rest; the cgroup is removed once empty.
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
        /// What its descendants inherit (`StrayProcesses`).
        var mark: [String]
    }

    private let log: DaemonLog
    private(set) var orphanGuard: OrphanGuard
    /// Live leaders, by pid (= pgid).
    private var leaders: [Int32: Leader] = [:]
    /// Exited leaders' groups that still have members.
    private var lingering = LingeringGroups()
    /// nil: no usable cgroup v2 (or `cgroups: false`); process groups alone.
    let cgroups: CgroupTree?
    /// The cgroup of each live or lingering worker, by its pid (= pgid).
    private var workerCgroups: [Int32: WorkerCgroup] = [:]
    /// Live workers' cgroup.procs, held open for `members` (a `status`
    /// lists every worker's) and closed when the leader is reaped.
    private let procsFiles: CgroupProcsFiles
    /// Without a cgroup: what an exited leader left outside its process
    /// group (`StrayProcesses`), stopped and waited for with the group.
    private var strays: [Int32: [Int32]] = [:]

    /// `fileReads`: shared with the status's `ProcessSampler` (one helper thread).
    init(orphanGuard: OrphanGuard, cgroups: CgroupTree?, log: DaemonLog, fileReads: ParallelFileReader = ParallelFileReader()) {
        self.procsFiles = CgroupProcsFiles(fileReads: fileReads)
        self.orphanGuard = orphanGuard
        self.cgroups = cgroups
        self.log = log
        if let cgroups { guardCgroups(cgroups) }
    }

    private func guardCgroups(_ tree: CgroupTree) {
        if !orphanGuard.guardCgroup(tree.root) {
            log.warning("the orphan guard was not told of the cgroups under \(tree.root): if the master is SIGKILLed, "
                        + "what a worker moved out of its process group may survive")
        }
    }

    var nextDeadline: MonotonicInstant? { lingering.nextDeadline }

    var lingeringCount: Int { lingering.pgids.count }

    /// The child listed its process group with the orphan guard itself,
    /// before it ran the program (`SpawnRequest.orphanGuardFD`): nothing it
    /// forks at once outlives a master killed before this call.
    func leaderStarted(_ pid: Int32, label: String, order: SpawnOrder, cgroup: WorkerCgroup?) {
        leaders[pid] = Leader(label: label, stopSignal: order.config.stopSignal, stopTimeout: order.config.stopTimeout,
                              mark: StrayProcesses.mark(masterPid: getpid(), order: order))
        workerCgroups[pid] = cgroup
    }

    /// Sends `signal` to a worker's process group and to everything in its
    /// cgroup (SIGKILL through cgroup.kill). False when neither reached anyone.
    @discardableResult
    func signal(_ signal: UnixSignal, worker leader: Int32) -> Bool {
        var sent = ProcessControl.sendToProcessGroup(signal, leader: leader)
        for pid in strays[leader] ?? [] { sent = ProcessControl.send(signal, to: pid) || sent }
        guard let cgroup = workerCgroups[leader], cgroup.isPopulated else { return sent }
        cgroup.signalAll(signal)
        return true
    }

    /// Whether anything of the worker is left: its process group, or its cgroup.
    private func hasMembers(_ pgid: Int32) -> Bool {
        ProcessControl.processGroupExists(pgid) || workerCgroups[pgid]?.isPopulated == true
            || strays[pgid]?.contains { kill($0, 0) == 0 } == true
    }

    /// Every process of each live worker, leader first: its cgroup's, or
    /// (without cgroups) its descendants and process group, from one walk
    /// of /proc made only if some worker has no cgroup (`ProcessTree`).
    func members(ofWorkers pids: [Int32]) -> [Int32: [Int32]] {
        var tree: ProcessTree?
        return members(ofWorkers: pids, tree: &tree)
    }

    /// The same with the walk of /proc kept by the caller: `tree` is read
    /// here if it is nil and a worker has no cgroup, and kept for the
    /// caller's next slice (a status snapshot walks /proc once, not once
    /// per slice of 128 workers: the walk reads every process of the host).
    func members(ofWorkers pids: [Int32], tree: inout ProcessTree?) -> [Int32: [Int32]] {
        var result: [Int32: [Int32]] = [:]
        var contained: [(leader: Int32, cgroup: WorkerCgroup)] = []
        for pid in pids {
            if let cgroup = workerCgroups[pid] {
                contained.append((pid, cgroup))
            } else {
                if tree == nil { tree = ProcessTree.read() }
                result[pid] = tree?.members(of: pid)
            }
        }
        for (worker, listed) in zip(contained, procsFiles.processes(ofWorkers: contained)) {
            let pid = worker.leader
            result[pid] = listed.count == 1 && listed[0] == pid ? listed : [pid] + listed.filter { $0 != pid }
        }
        return result
    }

    /// What a worker's cgroup is charged (memory.current), where the memory
    /// controller is on; without it there is no such file to look for (at
    /// 1000 workers, a `status` tried to open 1000 of them).
    func chargedMemory(ofWorker pid: Int32) -> UInt64? {
        guard cgroups?.controllers.contains("memory") == true else { return nil }
        return workerCgroups[pid]?.memoryCurrent
    }

    /// Each worker's memory with all it forked: what its cgroup is charged
    /// where the memory controller is on, else the sum of its members' RSS.
    func treeMemory(ofWorkers pids: [Int32]) -> [Int32: UInt64] {
        var result: [Int32: UInt64] = [:]
        var unmetered: [Int32] = []
        for pid in pids {
            if let charged = chargedMemory(ofWorker: pid) { result[pid] = charged } else { unmetered.append(pid) }
        }
        var reader = ProcFileReader(capacity: 128)
        for (pid, members) in members(ofWorkers: unmetered) {
            result[pid] = members.reduce(0) { total, member in
                let pages = reader.withContents(ofProcess: member, "statm", ProcessSampler.residentPages) ?? nil
                return total + (pages ?? 0) * KernelUnits.pageSize
            }
        }
        return result
    }

    /// The worker and all it left are gone: the guard forgets the group,
    /// and its cgroup is removed.
    private func release(_ pgid: Int32) {
        orphanGuard.workerExited(pgid)
        strays[pgid] = nil
        if let cgroup = workerCgroups.removeValue(forKey: pgid), !cgroup.remove() {
            log.warning("could not remove the empty cgroup \(cgroup.path): \(SystemError.last("rmdir"))")
        }
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
        procsFiles.release(worker: pid)
        return .process(leftInGroup: stopWhatTheLeaderLeft(pgid: pid, leader: leader, now: now))
    }

    /// A worker's leader was reaped (`pgid` is its pid): whatever still runs
    /// in its process group or cgroup (without one: whatever its environment
    /// ties to it, `StrayProcesses`) gets the group's stop signal now and
    /// SIGKILL after its stopTimeout. Says whether anything was left.
    private func stopWhatTheLeaderLeft(pgid: Int32, leader: Leader, now: MonotonicInstant) -> Bool {
        if workerCgroups[pgid] == nil {
            let found = StrayProcesses.find(mark: leader.mark, excluding: Set(leaders.keys).union([orphanGuard.pid]))
            if !found.isEmpty { strays[pgid] = found }
        }
        guard hasMembers(pgid) else {
            release(pgid)
            return false
        }
        let what = ProcessControl.processGroupExists(pgid) ? "processes of its process group"
            : workerCgroups[pgid] != nil ? "processes of its cgroup" : "processes it left outside its process group"
        log.warning("worker \(leader.label) exited, but \(what) still run; sending them \(leader.stopSignal), "
                    + "SIGKILL in \(HumanFormat.duration(seconds: leader.stopTimeout))")
        signal(leader.stopSignal, worker: pgid)
        lingering.leaderExited(pgid, worker: leader.label, stopTimeout: leader.stopTimeout, now: now)
        return true
    }

    /// SIGKILL for the lingering groups whose stopTimeout has passed.
    func killDue(now: MonotonicInstant) {
        for (pgid, worker) in lingering.takeDue(now: now) where hasMembers(pgid) {
            log.warning("processes left by worker \(worker) still run after the stop signal; sending SIGKILL to its "
                        + (workerCgroups[pgid] == nil ? "process group" : "process group and cgroup"))
            signal(.kill, worker: pgid)
        }
    }

    /// Forgets the lingering groups that have emptied (their members were
    /// reaped by the master, their subreaper), and names them.
    func releaseEmptyGroups() -> [Int32] {
        let emptied = lingering.pgids.filter { !hasMembers($0) }
        for pgid in emptied {
            lingering.remove(pgid)
            release(pgid)
        }
        return emptied
    }

    /// Without its guard a master killed by SIGKILL would leave orphans: a
    /// new guard is started, armed with every group the old one knew and
    /// the cgroup subtree as it is forked: notes written after the fork
    /// would leave a window in which a SIGKILLed master left them.
    private func replaceOrphanGuard(after status: ExitStatus) {
        log.error("the orphan guard (pid \(orphanGuard.pid)) died: \(status); starting a new one")
        orphanGuard.close()
        do {
            orphanGuard = try OrphanGuard.start(guarding: Array(Set(leaders.keys).union(lingering.pgids)), cgroup: cgroups?.root)
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
        removeCgroups()
    }

    /// At exit: whatever is left in a worker's cgroup is killed and reaped
    /// (at most a second: the kernel kills asynchronously), then appd's
    /// cgroups are removed.
    private func removeCgroups() {
        guard let cgroups else { return }
        let left = workerCgroups.values.filter(\.isPopulated)
        for cgroup in left { cgroup.signalAll(.kill) }
        for _ in 0..<100 where left.contains(where: \.isPopulated) {
            while ProcessControl.reapOne() != nil {}
            usleep(10_000)
        }
        for cgroup in workerCgroups.values { cgroup.remove() }
        workerCgroups.removeAll()
        cgroups.removeAll()
    }
}
