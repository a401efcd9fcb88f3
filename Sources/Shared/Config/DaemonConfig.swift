/// The validated daemon configuration: every path absolute, every default
/// filled in, every value checked. Produced by `ConfigLoader` from a JSON5
/// file or by `DemoConfig` when no file is given.
public struct DaemonConfig: Sendable, Equatable {
    /// The file this came from; nil for the embedded demo.
    public var sourcePath: String?
    public var controlSocket: String
    public var pidFile: String
    /// Written on SIGUSR2 (status) and, with a `.connections` suffix, on SIGIO.
    public var statusFile: String
    /// "-" means stderr.
    public var logFile: String
    /// Default seconds between a group's stopSignal and SIGKILL.
    public var stopTimeout: Double
    public var groups: [GroupConfig]

    public init(
        sourcePath: String?, controlSocket: String, pidFile: String, statusFile: String,
        logFile: String, stopTimeout: Double, groups: [GroupConfig]
    ) {
        self.sourcePath = sourcePath
        self.controlSocket = controlSocket
        self.pidFile = pidFile
        self.statusFile = statusFile
        self.logFile = logFile
        self.stopTimeout = stopTimeout
        self.groups = groups
    }

    public func group(named name: String) -> GroupConfig? { groups.first { $0.name == name } }

    /// This config with `group` in place of the one of the same name, or
    /// added after the others: a reload of one group applies only its entry.
    public func replacing(_ group: GroupConfig) -> DaemonConfig {
        var result = self
        if let index = result.groups.firstIndex(where: { $0.name == group.name }) {
            result.groups[index] = group
        } else {
            result.groups.append(group)
        }
        return result
    }
}

/// One named group of identical worker processes (a Workerman `Worker`).
public struct GroupConfig: Sendable, Equatable {
    /// The most processes one group may ask for, in a config or by `scale`:
    /// a typo of a few zeros must not fork the machine to death or make the
    /// master allocate slots until it is killed.
    public static let maximumCount = 10_000
    /// The longest duration a config may give (stopTimeout, readyTimeout,
    /// afterSeconds): about 11 days, far beyond any sane timeout.
    public static let maximumSeconds = 1_000_000.0

    public var name: String
    /// argv, no shell. argv[0] is looked up in PATH when it has no slash.
    public var command: [String]
    /// How many processes to keep running; 0 is allowed (a parked group).
    public var count: Int
    /// false: reload sends SIGUSR1 to the process instead of replacing it.
    public var reloadable: Bool
    /// Sockets the master binds once and hands down at fd 3.. (LISTEN_FDS).
    public var listen: [ListenAddress]
    public var readiness: Readiness
    /// Seconds a starting process may take to become ready before it counts as failed.
    public var readyTimeout: Double
    public var stopSignal: UnixSignal
    /// Seconds between stopSignal and SIGKILL.
    public var stopTimeout: Double
    public var env: [String: String]
    /// Absolute working directory.
    public var cwd: String

    public init(
        name: String, command: [String], count: Int, reloadable: Bool = true,
        listen: [ListenAddress] = [], readiness: Readiness = .none, readyTimeout: Double = 30,
        stopSignal: UnixSignal = .terminate, stopTimeout: Double = 2, env: [String: String] = [:],
        cwd: String = "/"
    ) {
        self.name = name
        self.command = command
        self.count = count
        self.reloadable = reloadable
        self.listen = listen
        self.readiness = readiness
        self.readyTimeout = readyTimeout
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.env = env
        self.cwd = cwd
    }
}

/// When a freshly started process counts as ready to serve.
public enum Readiness: Sendable, Equatable {
    /// As soon as it is spawned.
    case none
    /// When it sends READY=1 on NOTIFY_SOCKET (systemd's Type=notify).
    case notify
    /// After it has stayed up this many seconds.
    case afterSeconds(Double)
}

/// A socket the master binds for a group: `tcp://HOST:PORT` (IPv4 or
/// `[IPv6]`) or `unix:/path`.
public enum ListenAddress: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .unix(let path):
            return "unix:\(path)"
        }
    }
}
