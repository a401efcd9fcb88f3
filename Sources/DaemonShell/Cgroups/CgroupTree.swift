import Glibc
import Shared

/// appd's part of the cgroup v2 hierarchy: one cgroup per group, one child
/// cgroup per worker (`WorkerCgroup`), so containment does not stop at the
/// process group and a pre-fork server's whole tree is measured at once.
///
/// Where the subtree is (`root`):
/// - appd alone in its own cgroup (a systemd unit with `Delegate=yes`): that
///   cgroup. appd first moves itself and its orphan guard into the leaf
///   `appd.master`, since cgroup v2 lets a cgroup hand controllers to its
///   children only while it holds no process itself.
/// - otherwise (its cgroup is shared with a shell, other services, or is
///   the root): a cgroup of its own beside them, `appd.<pid>.<random>`,
///   removed at exit (after a SIGKILL of the master its empty directories
///   stay: whether another `appd.*` is stale cannot be told from here, as
///   its pid may be in another pid namespace). appd never changes a cgroup it does not own, so its workers get
///   controllers there only when the shared cgroup already hands them down.
///
/// `setUp` returns nil, and says once why, where cgroups cannot be used:
/// disabled by `cgroups: false`, no cgroup2 mount (v1-only hosts), no write
/// access (not root, no delegation, read-only). appd then contains workers
/// by process group and measures them by walking /proc (`ProcessTree`).
final class CgroupTree {
    let root: String
    /// Controllers workers' cgroups have (memory, cpu, pids: those delegated to appd).
    let controllers: Set<String>
    let hasKillFile: Bool
    /// Whether `root` was made by appd (removed at exit) rather than being its own cgroup.
    private let ownsRoot: Bool
    private let log: DaemonLog
    private var serial = 0
    /// Groups whose limits were said to be unenforceable, so it is said once.
    private var warnedGroups: Set<String> = []

    static let wantedControllers = ["memory", "cpu", "pids"]

    private init(root: String, controllers: Set<String>, hasKillFile: Bool, ownsRoot: Bool, log: DaemonLog) {
        self.root = root
        self.controllers = controllers
        self.hasKillFile = hasKillFile
        self.ownsRoot = ownsRoot
        self.log = log
    }

    static func setUp(enabled: Bool, orphanGuardPid: Int32, log: DaemonLog) -> CgroupTree? {
        guard enabled else {
            log.info("cgroups: disabled by the config (cgroups: false); workers are contained by their process groups")
            return nil
        }
        let location = CgroupLocation.find(mountinfo: CgroupFiles.read("/proc/self/mountinfo") ?? "",
                                           selfCgroup: CgroupFiles.read("/proc/self/cgroup") ?? "")
        switch location {
        case .failure(let problem):
            log.info("cgroups: not used, \(problem); workers are contained by their process groups")
            return nil
        case .success(let location):
            do {
                let tree = try make(at: location, orphanGuardPid: orphanGuardPid, log: log)
                let limits = tree.controllers.isEmpty
                    ? "no controllers delegated, so memoryMax, cpuMax and pidsMax cannot be applied"
                    : "controllers \(tree.controllers.sorted().joined(separator: " "))"
                log.info("cgroups: workers run in cgroups under \(tree.root) (\(limits); "
                         + (tree.hasKillFile ? "stops end with cgroup.kill)" : "no cgroup.kill before Linux 5.14: stops signal each process)"))
                return tree
            } catch {
                log.info("cgroups: not used, \(error); workers are contained by their process groups")
                return nil
            }
        }
    }

    private static func make(at location: CgroupLocation, orphanGuardPid: Int32, log: DaemonLog) throws(SystemError) -> CgroupTree {
        let own = location.directory
        let me = getpid()
        let members = Set(CgroupFiles.processes(in: own))
        let alone = location.cgroupPath != "/" && !members.isEmpty && members.isSubset(of: [me, orphanGuardPid])
        let root: String
        if alone {
            let leaf = own + "/appd.master"
            try CgroupFiles.makeDirectory(leaf)
            for pid in members { try CgroupFiles.write(String(pid), to: leaf + "/cgroup.procs") }
            root = own
        } else {
            // The pid alone is not unique: appds in other pid namespaces may share this cgroup.
            root = own + "/appd.\(me).\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            try CgroupFiles.makeDirectory(root, exclusive: true)
        }
        let controllers = enable(wantedControllers, in: root)
        return CgroupTree(root: root, controllers: controllers, hasKillFile: CgroupFiles.exists(root + "/cgroup.kill"),
                          ownsRoot: !alone, log: log)
    }

    /// Enables each available controller for the children of `directory`
    /// (its cgroup.subtree_control), one at a time; returns those enabled.
    private static func enable(_ wanted: [String], in directory: String) -> Set<String> {
        let available = Set((CgroupFiles.read(directory + "/cgroup.controllers") ?? "").split(whereSeparator: \.isWhitespace).map(String.init))
        return Set(wanted.filter { available.contains($0) && (try? CgroupFiles.write("+" + $0, to: directory + "/cgroup.subtree_control")) != nil })
    }

    /// The cgroup of the next process of a group, with the group's limits
    /// written where their controllers are enabled.
    func makeWorkerCgroup(id: Int, group: GroupConfig) throws(SystemError) -> WorkerCgroup {
        let groupDirectory = root + "/group." + group.name
        if !CgroupFiles.exists(groupDirectory) {
            try CgroupFiles.makeDirectory(groupDirectory)
            _ = Self.enable(controllers.sorted(), in: groupDirectory)
        }
        serial += 1
        let cgroup = WorkerCgroup(path: groupDirectory + "/w\(id).\(serial)", hasKillFile: hasKillFile)
        try CgroupFiles.makeDirectory(cgroup.path)
        applyLimits(group, to: cgroup)
        return cgroup
    }

    private func applyLimits(_ group: GroupConfig, to cgroup: WorkerCgroup) {
        let limits = group.limits
        let settings: [(controller: String, field: String, file: String, value: String?)] = [
            ("memory", "memoryMax", "memory.max", limits.memoryMax.map { String($0) }),
            ("cpu", "cpuMax", "cpu.max", limits.cpuMax?.cgroupText),
            ("pids", "pidsMax", "pids.max", limits.pidsMax.map { String($0) }),
        ]
        for setting in settings {
            guard let value = setting.value else { continue }
            guard controllers.contains(setting.controller) else {
                if warnedGroups.insert(group.name + "." + setting.field).inserted {
                    log.warning("group \(group.name): \(setting.field) is not enforced: the \(setting.controller) controller "
                                + "is not delegated to appd's cgroup \(root)")
                }
                continue
            }
            do {
                try CgroupFiles.write(value, to: cgroup.path + "/" + setting.file)
            } catch {
                log.warning("group \(group.name): \(setting.field) not applied: \(error)")
            }
        }
    }

    /// At exit, once every worker is gone: the groups' cgroups, and the
    /// subtree itself when appd made it.
    func removeAll() {
        if ownsRoot {
            Self.removeSubtree(root)
        } else {
            for entry in Self.subdirectories(of: root) where entry.hasPrefix("group.") { Self.removeSubtree(root + "/" + entry) }
        }
    }

    /// Removes empty cgroups bottom-up; one still holding a process stays.
    private static func removeSubtree(_ path: String) {
        for entry in subdirectories(of: path) { removeSubtree(path + "/" + entry) }
        _ = rmdir(path)
    }

    private static func subdirectories(of path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = entry.entryName
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }
}
