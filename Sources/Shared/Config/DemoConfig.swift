import FoundationEssentials

/// The config `appd` runs when started with no `--config` and no
/// `./appd.json`, so `swift run appd` shows a real supervisor at work.
///
/// Its two groups show both reload behaviours: `web` (two HTTP servers on an
/// inherited socket, replaced one at a time once each says READY=1) and
/// `queue` (timed work, not reloadable, so a reload sends it SIGUSR1).
///
/// The web port is 8080 unless the environment variable `APPD_DEMO_PORT` names
/// another (for a machine where 8080 is taken, or tests that need a free port).
public enum DemoConfig {
    public static let defaultWebPort: UInt16 = 8080

    /// The demo config, with `workerExecutable` (the `demo-worker` binary) as
    /// every group's argv[0] and the current directory as working directory.
    /// Throws only when `APPD_DEMO_PORT` is set but is not a port number.
    public static func make(
        workerExecutable: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> DaemonConfig {
        let port = try webPort(environment: environment)
        let cwd = ConfigFileSystem.currentDirectory()
        return DaemonConfig(
            sourcePath: nil,
            controlSocket: RuntimePaths.defaultControlSocket,
            pidFile: RuntimePaths.defaultPidFile,
            statusFile: RuntimePaths.defaultStatusFile,
            daemonLog: .standardError,
            stopTimeout: 2,
            groups: [
                GroupConfig(
                    name: "web", command: [workerExecutable, "web"], count: 2,
                    listen: [.tcp(host: "127.0.0.1", port: port)], readiness: .notify, readyTimeout: 10, cwd: cwd
                ),
                GroupConfig(
                    name: "queue", command: [workerExecutable, "queue", "--interval", "2"], count: 1,
                    reloadable: false, readiness: .none, cwd: cwd
                ),
            ]
        )
    }

    private static func webPort(environment: [String: String]) throws(ConfigError) -> UInt16 {
        guard let text = environment["APPD_DEMO_PORT"] else { return defaultWebPort }
        guard let port = UInt16(text), port > 0 else {
            throw ConfigError(problems: [ConfigProblem(
                file: "environment", fieldPath: "APPD_DEMO_PORT", message: "must be a port 1-65535, got '\(text)'"
            )])
        }
        return port
    }
}
