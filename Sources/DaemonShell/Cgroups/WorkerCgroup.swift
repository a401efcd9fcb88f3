import Glibc
import Shared

/// One worker's cgroup (`<appd's subtree>/group.<name>/w<id>.<serial>`):
/// the worker joins it between fork and exec, so everything it ever forks,
/// `setsid` or double fork included, stays inside, and `cgroup.kill` ends
/// all of it at once.
struct WorkerCgroup: Equatable, Sendable {
    let path: String
    /// Whether the kernel has `cgroup.kill` (Linux 5.14); older ones get
    /// SIGKILL sent to each listed process instead.
    let hasKillFile: Bool

    /// Opens the file the child writes "0" to before exec (`cs_spawn`),
    /// moving itself in; the caller closes it after the spawn.
    func openProcsForSpawn() throws(SystemError) -> Int32 {
        let fd = open(path + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open(\(path)/cgroup.procs)") }
        return fd
    }

    var processes: [Int32] { CgroupFiles.processes(in: path) }

    /// Whether any process is left; cgroup.events says so for the whole subtree.
    var isPopulated: Bool {
        guard let events = CgroupFiles.read(path + "/cgroup.events") else { return false }
        return CgroupFiles.keyedValue("populated", in: events) == 1
    }

    /// Sends `signal` to every process in the cgroup, those that left the
    /// worker's process group included. SIGKILL goes through cgroup.kill,
    /// which also catches a process forked while the list is read.
    func signalAll(_ signal: UnixSignal) {
        if signal == .kill, hasKillFile, (try? CgroupFiles.write("1", to: path + "/cgroup.kill")) != nil { return }
        for pid in processes { ProcessControl.send(signal, to: pid) }
    }

    /// Bytes charged to the cgroup (memory.current), when the memory
    /// controller is enabled for it.
    var memoryCurrent: UInt64? { CgroupFiles.read(path + "/memory.current").flatMap { UInt64($0.split(separator: "\n").first ?? "") } }

    /// Removes the directory once empty; false when it is not (yet).
    @discardableResult
    func remove() -> Bool { rmdir(path) == 0 || errno == ENOENT }
}
