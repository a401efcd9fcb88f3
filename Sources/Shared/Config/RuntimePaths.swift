import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Where `appd` keeps its socket, pid file and status file when the config
/// does not say. Shared so that `appctl` finds the same default socket the
/// daemon listens on without reading any config.
///
/// The directory itself is created by the daemon, not here.
public enum RuntimePaths {
    /// `$XDG_RUNTIME_DIR/appd` when the session has a runtime directory
    /// (per-user, tmpfs, cleaned at logout), else `/tmp/appd-<uid>` so two
    /// users on one machine never share a socket.
    public static var defaultDirectory: String {
        defaultDirectory(environment: ProcessInfo.processInfo.environment, userID: getuid())
    }

    /// `defaultDirectory` for a given environment and user; the XDG spec says
    /// to ignore a runtime directory that is not an absolute path.
    public static func defaultDirectory(environment: [String: String], userID: uid_t) -> String {
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return ConfigLoader.absolutePath("appd", relativeTo: runtime)
        }
        return "/tmp/appd-\(userID)"
    }

    public static var defaultControlSocket: String { defaultDirectory + "/appd.sock" }
    public static var defaultPidFile: String { defaultDirectory + "/appd.pid" }
    public static var defaultStatusFile: String { defaultDirectory + "/appd.status" }
}
