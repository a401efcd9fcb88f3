import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Where `appd` keeps its socket, pid file and status file when the config
/// does not say. Shared so that `appctl` finds the same default socket the
/// daemon listens on without reading any config.
///
/// The directory itself is created (mode 0700) and checked by the daemon,
/// not here: see `RuntimeDirectory` and docs/SECURITY.md.
public enum RuntimePaths {
    /// `$XDG_RUNTIME_DIR/appd` when the session has a runtime directory
    /// (per-user, tmpfs, cleaned at logout); else for root `/run/appd`
    /// (root under sudo, cron or an init script: /run is root's, where no
    /// other user can make the directory first); else `/tmp/appd-<uid>`,
    /// so two users on one machine never share a socket.
    public static var defaultDirectory: String {
        defaultDirectory(environment: ProcessInfo.processInfo.environment, userID: geteuid(),
                         runIsWritable: { isWritableDirectory("/run") })
    }

    /// `defaultDirectory` for a given environment and user; the XDG spec says
    /// to ignore a runtime directory that is not an absolute path.
    /// `runIsWritable` is asked only for root: whether /run exists and
    /// root may write there (not a read-only file system).
    public static func defaultDirectory(
        environment: [String: String], userID: uid_t, runIsWritable: () -> Bool = { false }
    ) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return ConfigLoader.absolutePath("appd", relativeTo: runtime)
        }
        if userID == 0, runIsWritable() { return "/run/appd" }
        return "/tmp/appd-\(userID)"
    }

    public static var defaultControlSocket: String { defaultDirectory + "/appd.sock" }

    /// Every place a daemon started without a config may have its socket,
    /// in the order `appctl` looks: the one this environment gives first,
    /// then the others a daemon started elsewhere would have used (an init
    /// script has no XDG_RUNTIME_DIR, an SSH root shell has one).
    public static var candidateControlSockets: [String] {
        candidateControlSockets(environment: ProcessInfo.processInfo.environment, userID: geteuid(),
                                runIsWritable: { isWritableDirectory("/run") })
    }

    public static func candidateControlSockets(
        environment: [String: String], userID: uid_t, runIsWritable: () -> Bool = { false }
    ) -> [String] {
        var directories = [defaultDirectory(environment: environment, userID: userID, runIsWritable: runIsWritable)]
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            directories.append(ConfigLoader.absolutePath("appd", relativeTo: runtime))
        }
        if userID == 0 { directories.append("/run/appd") }
        directories.append("/tmp/appd-\(userID)")
        var seen = Set<String>()
        return directories.filter { seen.insert($0).inserted }.map { $0 + "/appd.sock" }
    }
    public static var defaultPidFile: String { defaultDirectory + "/appd.pid" }
    public static var defaultStatusFile: String { defaultDirectory + "/appd.status" }

    private static func isWritableDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && access(path, W_OK) == 0
    }
}
