/// The `result` object of a `done` line. Every command fills in its own few
/// members and leaves the rest out; the static constructors below say which
/// command sends what, and are the way the daemon should build them.
///
/// One struct rather than one per command keeps the member names in one
/// place for both sides, and a client can read any of them without knowing
/// in advance which command the reply answers.
public struct ControlResult: Hashable, Sendable, Codable {
    /// ping
    public var pong: Bool?
    /// version: the daemon's product version ("0.1.0").
    public var version: String?
    /// version: the protocol version (`AppdVersion.controlProtocol`).
    public var protocolVersion: Int?
    /// status: the number of process items sent.
    public var processes: Int?
    /// connections: the number of connection items sent.
    public var connections: Int?
    /// reload: the number of groups reloaded; describe: the number described.
    public var groups: Int?
    /// stop with a group: the group, once every process of it has exited.
    public var stopped: String?
    /// stop without a group: the daemon is on its way out.
    public var stopping: Bool?
    /// start: the group started.
    public var started: String?
    /// scale: the group and its new count.
    public var group: String?
    public var count: Int?
    /// signal: how many processes were sent the signal.
    public var signalled: Int?
    /// logs: how many log items were sent.
    public var lines: Int?
    /// reopenLogs: how many log files were opened again.
    public var reopened: Int?
    /// health: whether every group has its count of ready processes, a
    /// one-line summary, and what is wrong with each group that does not.
    public var healthy: Bool?
    public var summary: String?
    public var problems: [String]?
    /// metrics: the size of the exposition sent, bytes.
    public var bytes: Int?

    public init(
        pong: Bool? = nil, version: String? = nil, protocolVersion: Int? = nil, processes: Int? = nil,
        connections: Int? = nil, groups: Int? = nil, stopped: String? = nil, stopping: Bool? = nil,
        started: String? = nil, group: String? = nil, count: Int? = nil, signalled: Int? = nil, lines: Int? = nil,
        reopened: Int? = nil, healthy: Bool? = nil, summary: String? = nil, problems: [String]? = nil,
        bytes: Int? = nil
    ) {
        self.pong = pong
        self.version = version
        self.protocolVersion = protocolVersion
        self.processes = processes
        self.connections = connections
        self.groups = groups
        self.stopped = stopped
        self.stopping = stopping
        self.started = started
        self.group = group
        self.count = count
        self.signalled = signalled
        self.lines = lines
        self.reopened = reopened
        self.healthy = healthy
        self.summary = summary
        self.problems = problems
        self.bytes = bytes
    }

    private enum CodingKeys: String, CodingKey {
        case pong, version, protocolVersion = "protocol", processes, connections, groups, stopped, stopping,
             started, group, count, signalled, lines, reopened, healthy, summary, problems, bytes
    }

    /// `{"pong": true}`
    public static let pong = ControlResult(pong: true)
    /// `{"version": "0.1.0", "protocol": 1}`
    public static let version = ControlResult(version: AppdVersion.current, protocolVersion: AppdVersion.controlProtocol)
    /// `{"processes": 4}`
    public static func status(processes: Int) -> ControlResult { ControlResult(processes: processes) }
    /// `{"connections": 12}`
    public static func connections(_ count: Int) -> ControlResult { ControlResult(connections: count) }
    /// `{"groups": 2}`
    public static func reloaded(groups: Int) -> ControlResult { ControlResult(groups: groups) }
    /// `{}`: restart answers as soon as the processes are asked to restart.
    public static let restarting = ControlResult()
    /// `{"stopped": "web"}`
    public static func stopped(group: String) -> ControlResult { ControlResult(stopped: group) }
    /// `{"stopping": true}`, sent before the daemon closes the socket.
    public static let daemonStopping = ControlResult(stopping: true)
    /// `{"started": "web"}`
    public static func started(group: String) -> ControlResult { ControlResult(started: group) }
    /// `{"group": "web", "count": 3}`
    public static func scaled(group: String, count: Int) -> ControlResult { ControlResult(group: group, count: count) }
    /// `{"signalled": 4}`
    public static func signalled(processes: Int) -> ControlResult { ControlResult(signalled: processes) }
    /// `{"groups": 2}`: the number of groups `describe` sent.
    public static func described(groups: Int) -> ControlResult { ControlResult(groups: groups) }
    /// `{"lines": 100}`
    public static func logs(lines: Int) -> ControlResult { ControlResult(lines: lines) }
    /// `{"reopened": 3}`
    public static func reopenedLogs(files: Int) -> ControlResult { ControlResult(reopened: files) }
    /// `{"healthy": false, "summary": "web 3/4, 1 backing off", "problems": ["web: 3/4 ready (…)"]}`
    public static func health(healthy: Bool, summary: String, problems: [String]) -> ControlResult {
        ControlResult(healthy: healthy, summary: summary, problems: problems)
    }
    /// `{"bytes": 5120}`: the size of the exposition the `metrics` items held.
    public static func metrics(bytes: Int) -> ControlResult { ControlResult(bytes: bytes) }
}
