import CSystem
import Glibc

/// The master's last word when it dies without a chance to speak: a tiny
/// process (see `cs_orphan_guard_start`) that SIGKILLs every live worker's
/// process group once the master is gone, SIGKILL of the master included.
/// PR_SET_PDEATHSIG reaches a worker, not what the worker forked; this does.
struct OrphanGuard {
    let fd: Int32
    let pid: Int32

    /// Started before the master opens anything else; a replacement started
    /// later closes every descriptor it inherits but its pipe, so a guard
    /// never holds the pid-file lock or a socket.
    ///
    /// `groups` and `cgroup` are guarded from the moment the guard exists:
    /// it gets them with its copy of the master's memory, not through the
    /// pipe, so a master killed just after the fork still takes them down.
    static func start(guarding groups: [Int32] = [], cgroup: String? = nil) throws(SystemError) -> OrphanGuard {
        var pid: pid_t = 0
        let fd = try checked("fork(orphan guard)", groups.withUnsafeBufferPointer { groups in
            guard let cgroup else { return cs_orphan_guard_start(&pid, groups.baseAddress, Int32(groups.count), nil) }
            return cgroup.withCString { cs_orphan_guard_start(&pid, groups.baseAddress, Int32(groups.count), $0) }
        })
        return OrphanGuard(fd: fd, pid: pid)
    }

    /// Lets go of a guard that died.
    func close() { FileIO.close(fd) }

    // A worker's group is listed by the worker itself, between fork and
    // exec (`SpawnRequest.orphanGuardFD`), so the master may die at any
    // moment after the fork without leaving what the worker forks.

    /// A worker's group is empty: it is forgotten, so a reused pid is never
    /// hit. Never blocks: a note a stopped guard's full pipe cannot take is
    /// dropped.
    func workerExited(_ pid: Int32) { _ = cs_orphan_guard_note(fd, -pid) }

    /// The cgroup subtree holding every worker's cgroup (`CgroupTree`): the
    /// guard writes its cgroup.kill at the end, reaching what `setsid` took
    /// out of a process group. Not sent before the tree exists.
    func guardCgroup(_ path: String) -> Bool { cs_orphan_guard_note_cgroup(fd, path) == 0 }
}
