/// One streamed item of a reply. On the wire it is an object whose `type`
/// member says which payload it is: `{"type": "process", "group": "web", ...}`.
public enum ControlItem: Hashable, Sendable {
    /// `status`: starts each snapshot.
    case master(MasterStatus)
    /// `status`: one per worker slot.
    case process(ProcessStatus)
    /// `status` with `watch`: ends each snapshot, since such a stream never
    /// sends `done` and a client must know when to draw.
    case snapshotEnd(SnapshotEnd)
    /// `connections`: one per TCP connection.
    case connection(ConnectionEntry)
    /// `reload`: a process was replaced.
    case replaced(ProcessReplaced)
    /// `reload`: a group's reload ended.
    case reloaded(GroupReloaded)
    /// `logs`: one captured output line.
    case log(LogEntry)
    /// `describe`: one group's settings, differences from the file, last reload.
    case groupDescription(GroupDescription)
    /// `metrics`: a piece of the Prometheus text exposition.
    case metrics(MetricsText)
    /// A type this build does not know, from a newer daemon: kept whole
    /// (`type` member included) so a client can skip or print it.
    case unknown(type: String, JSONValue)

    /// The wire `type`.
    public var type: String {
        switch self {
        case .master: return "master"
        case .process: return "process"
        case .snapshotEnd: return "snapshotEnd"
        case .connection: return "connection"
        case .replaced: return "replaced"
        case .reloaded: return "reloaded"
        case .log: return "log"
        case .groupDescription: return "groupDescription"
        case .metrics: return "metrics"
        case .unknown(let type, _): return type
        }
    }
}

/// The item that closes one `status --watch` snapshot.
public struct SnapshotEnd: Hashable, Sendable, Codable {
    /// The number of process items in the snapshot.
    public var processes: Int

    public init(processes: Int) { self.processes = processes }
}

extension ControlItem: Codable {
    private enum Key: String, CodingKey { case type }

    /// The payload's members and `type` side by side in one object.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .master(let payload): try payload.encode(to: encoder)
        case .process(let payload): try payload.encode(to: encoder)
        case .snapshotEnd(let payload): try payload.encode(to: encoder)
        case .connection(let payload): try payload.encode(to: encoder)
        case .replaced(let payload): try payload.encode(to: encoder)
        case .reloaded(let payload): try payload.encode(to: encoder)
        case .log(let payload): try payload.encode(to: encoder)
        case .groupDescription(let payload): try payload.encode(to: encoder)
        case .metrics(let payload): try payload.encode(to: encoder)
        case .unknown(_, let value):
            try value.encode(to: encoder)
            return
        }
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(type, forKey: .type)
    }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .type)
        switch type {
        case "master": self = .master(try MasterStatus(from: decoder))
        case "process": self = .process(try ProcessStatus(from: decoder))
        case "snapshotEnd": self = .snapshotEnd(try SnapshotEnd(from: decoder))
        case "connection": self = .connection(try ConnectionEntry(from: decoder))
        case "replaced": self = .replaced(try ProcessReplaced(from: decoder))
        case "reloaded": self = .reloaded(try GroupReloaded(from: decoder))
        case "log": self = .log(try LogEntry(from: decoder))
        case "groupDescription": self = .groupDescription(try GroupDescription(from: decoder))
        case "metrics": self = .metrics(try MetricsText(from: decoder))
        default: self = .unknown(type: type, try JSONValue(from: decoder))
        }
    }
}
