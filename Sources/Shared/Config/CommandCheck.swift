import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

extension ConfigLoader {
    /// What `appd --check` adds to validation: whether each group's argv[0]
    /// would be found and could be executed, looked up the way the daemon
    /// does when it spawns (`Daemon.spawn`: a path with a slash is taken
    /// relative to the group's cwd, a bare name is searched in the PATH the
    /// child gets, the group's `env` over appd's own environment), telling
    /// "not found" from "permission denied".
    ///
    /// Only `--check` asks this, not every start or reload: there a missing
    /// command is already reported by the daemon as a spawn failure of that
    /// group, which backs off and retries, so installing the program later
    /// heals it without a reload; refusing the whole config instead would
    /// stop every other group from starting because one binary is not
    /// deployed yet. And the answer is only true at the moment it is asked.
    public static func commandProblems(
        in config: DaemonConfig, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [ConfigProblem] {
        let file = config.sourcePath ?? "embedded demo config"
        return config.groups.enumerated().compactMap { position, group in
            guard let command = group.command.first else { return nil }
            let searchPath = group.env["PATH"] ?? environment["PATH"]
            return commandProblem(command, cwd: group.cwd, searchPath: searchPath, pathFromGroup: group.env["PATH"] != nil)
                .map { ConfigProblem(file: file, fieldPath: "groups[\(position)].command[0]", message: $0) }
        }
    }

    /// Why `command` could not be executed, or nil when it could.
    static func commandProblem(_ command: String, cwd: String, searchPath: String?, pathFromGroup: Bool) -> String? {
        if command.contains("/") {
            // Checked as the daemon joins it; shown with "." and ".." folded.
            let path = command.hasPrefix("/") ? command : cwd + "/" + command
            let shown = command.hasPrefix("/") ? "'\(command)'"
                : "'\(command)' ('\(absolutePath(command, relativeTo: cwd))', relative to the group's cwd)"
            switch inspectExecutable(path) {
            case .executable: return nil
            case .missing: return "command \(shown) does not exist"
            case .refused(let reason): return "command \(shown) cannot be executed: \(reason)"
            }
        }
        // Like Spawner.resolveExecutable: the first executable file wins.
        let path = searchPath ?? "/usr/local/bin:/usr/bin:/bin"
        var refusals: [String] = []
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            switch inspectExecutable(candidate) {
            case .executable: return nil
            case .missing: continue
            case .refused(let reason): refusals.append("'\(candidate)': \(reason)")
            }
        }
        let origin = pathFromGroup ? "the group's env PATH" : searchPath == nil ? "the default PATH" : "PATH"
        if let refusal = refusals.first {
            return "command '\(command)' is found in \(origin) but cannot be executed: \(refusal)"
        }
        return "command '\(command)' not found in \(origin) (\(path))"
    }

    enum ExecutableCheck: Equatable {
        case executable
        case missing
        /// Exists (or cannot be looked at) but cannot be run; why.
        case refused(String)
    }

    /// What execve would make of `path`, asked without running it.
    static func inspectExecutable(_ path: String) -> ExecutableCheck {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let error = errno
            if error == ENOENT || error == ENOTDIR { return .missing }
            return .refused(reason(error))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .refused("it is a directory")
        default: return .refused("it is not a regular file")
        }
        guard access(path, X_OK) == 0 else {
            let error = errno
            let mode = String(info.st_mode & 0o7777, radix: 8)
            return .refused(error == EACCES ? "permission denied (mode 0\(mode))" : reason(error))
        }
        return .executable
    }

    private static func reason(_ error: Int32) -> String {
        guard let text = strerror(error) else { return "error \(error)" }
        return String(cString: text).lowercased()
    }
}
