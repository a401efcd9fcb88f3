import CSystem
import Glibc
import Shared

/// One child to start: argv, environment and fds, already resolved.
struct SpawnRequest: Sendable {
    /// Absolute path of the program (see `Spawner.resolveExecutable`).
    var executable: String
    /// argv, argv[0] included.
    var arguments: [String]
    /// The whole environment: nothing of the master's is inherited implicitly.
    /// LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES are the spawner's own.
    var environment: [String: String]
    /// Variables whose value is the child's own pid (WATCHDOG_PID), filled
    /// in by the child between fork and exec.
    var ownPidVariables: [String] = []
    var workingDirectory: String
    /// Listening sockets handed down at fds 3.. (systemd socket activation).
    var listenFDs: [Int32] = []
    /// LISTEN_FDNAMES, one name per listen fd.
    var listenNames: [String] = []
    var stdout: Int32
    var stderr: Int32
    /// The child's soft RLIMIT_NOFILE; 0 leaves the master's.
    var openFileLimit: UInt64 = Spawner.childOpenFileLimit
    /// Set after `openFileLimit`, so a configured `nofile` wins.
    var resourceLimits: [ResourceLimitName: ResourceLimit] = [:]
    var nice: Int?
    var umask: UInt32?
    /// Who the child becomes before it execs; nil: the master's user.
    var identity: WorkerIdentity?
    /// The worker cgroup's cgroup.procs, open for writing (`WorkerCgroup`);
    /// the child moves itself in before exec. -1: no cgroup.
    var cgroupProcsFD: Int32 = -1
    /// The orphan guard's pipe, where the child lists its own process group
    /// before it runs the program (-1: none).
    var orphanGuardFD: Int32 = -1
}

/// Starts children with `cs_spawn`, an async-signal-safe fork/exec.
///
/// Not `Foundation.Process`: it spawns with the calling thread's signal mask
/// (the master's blocked TERM would make a graceful stop do nothing) and its
/// own reaping collides with the master's `waitpid(-1)` reaper. Each child
/// gets stdin from /dev/null, its own process group, SIGKILL when the master
/// dies (PR_SET_PDEATHSIG), default signal handling, no fd but 0..2 and
/// its listen sockets, and appd's original open-file soft limit; then the
/// group's rlimits, nice value, umask, and its user and groups, set in the
/// child (the parent looked them up: the child may not ask the user
/// database), last of all the user.
enum Spawner {
    /// The variables that describe the fds being handed down; never passed
    /// through from `environment`, where a stale value would lie to the child.
    private static let listenVariables: Set<String> = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]

    /// The soft open-file limit appd started with, which children get back
    /// (the default of `SpawnRequest.openFileLimit`); 0 until
    /// `raiseOpenFileLimit` raises the master's. Set once at start-up,
    /// before any thread exists.
    nonisolated(unsafe) static var childOpenFileLimit: UInt64 = 0

    /// Returns the child's pid once it has exec'd. A child that could not
    /// exec has been reaped already; the error names the step that failed,
    /// e.g. `execve(/usr/bin/nope): No such file or directory`.
    static func spawn(_ request: SpawnRequest) throws(SystemError) -> Int32 {
        let stdin = try FileIO.nullDevice()
        var pidVariables = request.ownPidVariables
        var environment = request.environment
            .filter { !listenVariables.contains($0.key) && !pidVariables.contains($0.key) }
            .map { "\($0.key)=\($0.value)" }
            .sorted()
        if !request.listenFDs.isEmpty {
            environment.append("LISTEN_FDS=\(request.listenFDs.count)")
            environment.append("LISTEN_FDNAMES=" + request.listenNames.joined(separator: ":"))
            pidVariables.append("LISTEN_PID")
        }
        let firstPidVariable = environment.count
        // Room for 20 digits; the child writes its own pid over the zeros.
        environment += pidVariables.map { "\($0)=" + String(repeating: "0", count: 20) }
        let argv = CStringArray(request.arguments)
        let envp = CStringArray(environment)
        let pidSlots: [UnsafeMutablePointer<CChar>?] = pidVariables.enumerated().map { offset, name in
            envp.pointers[firstPidVariable + offset]! + name.utf8.count + 1
        }

        let limits = request.resourceLimits.sorted { $0.key < $1.key }
        let cLimits = limits.map { cs_resource_limit(resource: $0.key.resource, soft: $0.value.soft, hard: $0.value.hard) }
        let groups = request.identity?.groups ?? []

        var pid: pid_t = 0
        var failure = cs_spawn_failure()
        let error = request.executable.withCString { path in
            request.workingDirectory.withCString { cwd in
                request.listenFDs.withUnsafeBufferPointer { fds in
                    pidSlots.withUnsafeBufferPointer { slots in
                        cLimits.withUnsafeBufferPointer { limitList in
                            groups.withUnsafeBufferPointer { groupList in
                                var spawn = cs_spawn_request(
                                    path: path, argv: argv.pointers, envp: envp.pointers, cwd: cwd,
                                    listen_fds: fds.baseAddress, listen_count: Int32(fds.count),
                                    stdin_fd: stdin, stdout_fd: request.stdout, stderr_fd: request.stderr,
                                    pid_slots: slots.baseAddress, pid_slot_count: Int32(slots.count),
                                    child_nofile_soft: request.openFileLimit,
                                    limits: limitList.baseAddress, limit_count: Int32(limitList.count),
                                    set_nice: request.nice == nil ? 0 : 1, nice: Int32(request.nice ?? 0),
                                    set_umask: request.umask == nil ? 0 : 1, umask: mode_t(request.umask ?? 0),
                                    set_identity: request.identity == nil ? 0 : 1,
                                    uid: request.identity?.uid ?? 0, gid: request.identity?.gid ?? 0,
                                    groups: groupList.baseAddress, group_count: Int32(groupList.count),
                                    cgroup_procs_fd: request.cgroupProcsFD,
                                    guard_fd: request.orphanGuardFD
                                )
                                return cs_spawn(&spawn, &pid, &failure)
                            }
                        }
                    }
                }
            }
        }
        withExtendedLifetime((argv, envp)) {}
        guard error == 0 else {
            throw SystemError(call: failedCall(failure, of: request, limits: limits), errno: error)
        }
        return pid
    }

    /// The failed step as an operator reads it, with what it was given:
    /// `setuid(65534)`, `setrlimit(RLIMIT_NOFILE, 2000000)`, `chdir(/srv/app)`.
    private static func failedCall(
        _ failure: cs_spawn_failure, of request: SpawnRequest, limits: [(key: ResourceLimitName, value: ResourceLimit)]
    ) -> String {
        switch Int(failure.step) {
        case Int(CS_STEP_FORK): return "fork(\(request.executable))"
        case Int(CS_STEP_CHDIR): return "chdir(\(request.workingDirectory))"
        case Int(CS_STEP_FDS): return "dup2(\(request.executable))"
        case Int(CS_STEP_EXEC): return "execve(\(request.executable))"
        case Int(CS_STEP_LIMIT):
            guard limits.indices.contains(Int(failure.detail)) else {
                return "setrlimit(RLIMIT_NOFILE, soft \(request.openFileLimit))"
            }
            let (name, limit) = limits[Int(failure.detail)]
            return "setrlimit(\(name.constantName), \(limit))"
        case Int(CS_STEP_NICE): return "setpriority(\(request.nice ?? 0))"
        case Int(CS_STEP_SETGROUPS): return "setgroups(\((request.identity?.groups ?? []).map(String.init).joined(separator: ", ")))"
        case Int(CS_STEP_SETGID): return "setgid(\(request.identity?.gid ?? 0))"
        case Int(CS_STEP_SETUID): return "setuid(\(request.identity?.uid ?? 0))"
        case Int(CS_STEP_CGROUP): return "write(cgroup.procs, \(request.executable))"
        default: return "setpgid/prctl(\(request.executable))"
        }
    }

    /// Where `name` runs from: a name with a slash as is, else the first
    /// executable regular file of that name in `searchPath` (PATH syntax;
    /// nil means "/usr/local/bin:/usr/bin:/bin"). nil when there is none.
    static func resolveExecutable(_ name: String, searchPath: String?) -> String? {
        if name.isEmpty { return nil }
        if name.contains("/") { return isExecutableFile(name) ? name : nil }
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        return directories.lazy.map { "\($0)/\(name)" }.first(where: isExecutableFile)
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }
}

/// A NULL-terminated array of C strings (argv, envp), freed with the object.
private final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}
