import Shared

/// Finds the daemon's control socket, in the order SPEC.md gives:
/// `--socket`, then `$APPCTL_SOCKET`, then the `controlSocket` of the config
/// (`--config FILE`, else `./appd.json` when present), then the default
/// path the daemon itself uses without a config (`RuntimePaths`).
///
/// The environment and the file system come in as values so that tests can
/// check the order without touching either.
struct SocketLocator {
    /// Reads an environment variable (`getenv` outside tests).
    var environment: (String) -> String?
    var fileExists: (String) -> Bool
    var loadConfig: (String) throws(ConfigError) -> DaemonConfig = { path throws(ConfigError) in
        try ConfigLoader.load(path: path)
    }
    var defaultSocket: () -> String = { RuntimePaths.defaultControlSocket }

    /// The config `appd` reads when started without `--config`, and so the
    /// one `appctl` consults: relative to the current directory.
    static let implicitConfig = "appd.json"

    func socketPath(for choice: SocketChoice) throws(SocketLookupError) -> String {
        if case .path(let path) = choice { return path }
        if let path = environment("APPCTL_SOCKET"), !path.isEmpty { return path }
        let configPath: String
        switch choice {
        case .config(let path):
            configPath = path
        case .automatic where fileExists(Self.implicitConfig):
            configPath = Self.implicitConfig
        default:
            return defaultSocket()
        }
        do {
            return try loadConfig(configPath).controlSocket
        } catch {
            throw SocketLookupError(configPath: configPath, problem: error)
        }
    }
}

/// The config that should name the socket cannot be used (exit status 2).
struct SocketLookupError: Error, Equatable, CustomStringConvertible {
    var configPath: String
    var problem: ConfigError

    var description: String {
        "cannot read the control socket path from \(configPath):\n\(problem)\n"
            + "(appctl reads controlSocket from it; give the socket with --socket <path> to bypass it)"
    }
}
