import Glibc
import Shared

/// Finds the daemon's control socket, in the order SPEC.md gives:
/// `--socket`, then `$APPCTL_SOCKET`, then the `controlSocket` of the config
/// (`--config FILE`, else `./appd.json` when present), then the default
/// paths a daemon without a config uses (`RuntimePaths`), in order: the
/// first that holds a socket, and appctl says which it took when it was not
/// the first, or that none holds one.
///
/// A config that has problems does not lock appctl out: the daemon still
/// runs on its previous config, and `appctl reload` is how the fixed file
/// reaches it. So when the config cannot be used, its `controlSocket` is
/// salvaged (the file parsed alone, else scanned for a `controlSocket: "..."`
/// entry), else the default path is used; appctl says so on stderr. Only a
/// file that cannot be read at all is an error.
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
    /// The socket a config that cannot be loaded still names; nil when the
    /// file cannot be read.
    var salvageSocket: (String) -> SalvagedSocket? = { ConfigLoader.salvageControlSocket(fromConfigAt: $0) }
    /// The default socket paths, most likely first.
    var defaultSockets: () -> [String] = { RuntimePaths.candidateControlSockets }
    /// Whether a socket file is at a path (lstat, outside tests).
    var isSocket: (String) -> Bool = { path in
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
    }
    /// Where the note about a salvaged socket goes (stderr outside tests).
    var warn: (String) -> Void = { text in
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }

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
            guard let salvaged = salvageSocket(configPath) else {
                throw SocketLookupError(configPath: configPath, problem: error)
            }
            let socket = salvaged.path ?? defaultSocket()
            warn(Self.salvageNote(configPath: configPath, problem: error, salvaged: salvaged, socket: socket))
            return socket
        }
    }

    /// The first default path that holds a socket, or the first path.
    private func defaultSocket() -> String {
        let candidates = defaultSockets()
        guard let first = candidates.first else { return RuntimePaths.defaultControlSocket }
        if let found = candidates.first(where: isSocket) {
            if found != first { warn("appctl: no socket at \(first); using the one at \(found)\n") }
            return found
        }
        if candidates.count > 1 {
            warn("appctl: no appd socket at the default paths: \(candidates.joined(separator: ", "))\n")
        }
        return first
    }

    /// `appctl: appd.json has problems (appd.json:3:14: unexpected '}' ...);
    /// using the controlSocket found by scanning it: /run/appd.sock`.
    static func salvageNote(configPath: String, problem: ConfigError, salvaged: SalvagedSocket, socket: String) -> String {
        let count = problem.problems.count
        let first = problem.problems.first.map(\.description) ?? "unusable"
        let problems = count > 1 ? "\(count) problems, the first: \(first)" : first
        let how: String
        switch salvaged {
        case .parsed: how = "using its controlSocket anyway"
        case .scanned: how = "using the controlSocket found by scanning it"
        case .notFound: how = "no controlSocket found in it, using the default"
        }
        return "appctl: \(configPath) cannot be used (\(problems)); \(how): \(socket)\n"
            + "appctl: (appd --check --config \(configPath) lists every problem; --socket <path> skips the config)\n"
    }
}

/// The config that should name the socket cannot be read (exit status 2).
struct SocketLookupError: Error, Equatable, CustomStringConvertible {
    var configPath: String
    var problem: ConfigError

    var description: String {
        "cannot read the control socket path from \(configPath):\n\(problem)\n"
            + "(appctl reads controlSocket from it; give the socket with --socket <path> to bypass it)"
    }
}
