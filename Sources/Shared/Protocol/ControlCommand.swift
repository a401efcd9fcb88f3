/// What a control request asks for, with its arguments checked and typed.
/// `appctl` subcommands map onto these one to one; the daemon switches over
/// them. See docs/PROTOCOL.md for the replies each one streams.
public enum ControlCommand: Hashable, Sendable {
    case ping
    case version
    /// A snapshot of the master and every process; with `watch`, a new
    /// snapshot every `watch` seconds until the client goes away.
    case status(group: String?, watch: Double?)
    case connections(group: String?)
    case reload(group: String?)
    case restart(group: String?)
    /// With a group, stop that group (it stays stopped); without, stop the daemon.
    case stop(group: String?)
    case start(group: String)
    case scale(group: String, count: Int)
    case signal(group: String?, UnixSignal)
    /// The last `lines` lines of the groups' histories that `filter`
    /// accepts, then (with `follow`) new ones as they come.
    case logs(LogFilter, follow: Bool, lines: Int)
    /// Every log file is opened again by its path, for an external logrotate
    /// that moved them away (`appctl logs --reopen`).
    case reopenLogs
    /// Each group's settings in force, how the config file differs, and its last reload.
    case describe(group: String?)
    /// Whether every group has its count of ready processes (an exec probe's question).
    case health
    /// The Prometheus text exposition of every group and process.
    case metrics

    /// `lines` when a `logs` request does not say.
    public static let defaultLogLines = 100
    /// The shortest `watch` interval: a faster one would keep the master busy
    /// collecting figures nobody can read that fast.
    public static let minimumWatchInterval = 0.1
    /// The longest: a day. (Beyond any use, and far from where time overflows.)
    public static let maximumWatchInterval = 86_400.0
    /// The most `lines` a `logs` request may ask for.
    public static let maximumLogLines = 100_000

    /// The `cmd` of the request.
    public var name: String {
        switch self {
        case .ping: return "ping"
        case .version: return "version"
        case .status: return "status"
        case .connections: return "connections"
        case .reload: return "reload"
        case .restart: return "restart"
        case .stop: return "stop"
        case .start: return "start"
        case .scale: return "scale"
        case .signal: return "signal"
        case .logs: return "logs"
        case .reopenLogs: return "reopenLogs"
        case .describe: return "describe"
        case .health: return "health"
        case .metrics: return "metrics"
        }
    }

    /// Every command name, in the order the documentation lists them.
    public static let names = [
        "ping", "version", "status", "connections", "reload", "restart", "stop", "start", "scale", "signal", "logs",
        "reopenLogs", "describe", "health", "metrics",
    ]

    /// The group the command is limited to, if any.
    public var group: String? {
        switch self {
        case .ping, .version, .reopenLogs, .health, .metrics: return nil
        case .status(let group, _), .connections(let group), .reload(let group), .restart(let group),
             .stop(let group), .signal(let group, _), .describe(let group):
            return group
        case .logs(let filter, _, _):
            return filter.group
        case .start(let group), .scale(let group, _):
            return group
        }
    }

    /// The request members besides `id` and `cmd`. Optional arguments left
    /// out are not sent, so a request stays readable to older daemons.
    public var arguments: [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        if let group { members["group"] = .string(group) }
        switch self {
        case .ping, .version, .connections, .reload, .restart, .stop, .start, .describe, .reopenLogs, .health, .metrics:
            break
        case .status(_, let watch):
            if let watch { members["watch"] = .number(watch) }
        case .scale(_, let count):
            members["count"] = .number(Double(count))
        case .signal(_, let signal):
            members["signal"] = .string(signal.name)
        case .logs(let filter, let follow, let lines):
            if let id = filter.id { members["workerId"] = .number(Double(id)) }
            if let stream = filter.stream { members["stream"] = .string(stream.rawValue) }
            if follow { members["follow"] = .bool(true) }
            members["lines"] = .number(Double(lines))
        }
        return members
    }
}

extension ControlCommand {
    /// Reads the command named `name` from a request's members, checking
    /// that every argument is present, well typed, in range, and known.
    ///
    /// Unknown members are refused rather than ignored: `{"cmd": "stop",
    /// "grop": "web"}` must not stop the whole daemon because of a typo.
    public init(name: String, members: [String: JSONValue]) throws(ProtocolError) {
        var arguments = RequestArguments(command: name, members: members)
        switch name {
        case "ping":
            self = .ping
        case "version":
            self = .version
        case "status":
            self = .status(group: try arguments.optionalGroup(), watch: try arguments.watchInterval())
        case "connections":
            self = .connections(group: try arguments.optionalGroup())
        case "reload":
            self = .reload(group: try arguments.optionalGroup())
        case "restart":
            self = .restart(group: try arguments.optionalGroup())
        case "stop":
            self = .stop(group: try arguments.optionalGroup())
        case "start":
            self = .start(group: try arguments.requiredGroup())
        case "scale":
            self = .scale(group: try arguments.requiredGroup(),
                          count: try arguments.count("count", default: nil, maximum: GroupConfig.maximumCount))
        case "signal":
            self = .signal(group: try arguments.optionalGroup(), try arguments.signal())
        case "logs":
            let group = try arguments.optionalGroup()
            let filter = LogFilter(group: group, id: try arguments.workerID(of: group), stream: try arguments.stream())
            let follow = try arguments.flag("follow")
            self = .logs(filter, follow: follow,
                         lines: try arguments.count("lines", default: ControlCommand.defaultLogLines,
                                                    maximum: ControlCommand.maximumLogLines))
        case "reopenLogs":
            self = .reopenLogs
        case "describe":
            self = .describe(group: try arguments.optionalGroup())
        case "health":
            self = .health
        case "metrics":
            self = .metrics
        default:
            throw ProtocolError(.unknownCommand, "unknown command '\(name)'; known: \(ControlCommand.names.joined(separator: ", "))")
        }
        try arguments.refuseUnread()
    }
}

/// The arguments of one request, read member by member. Each accessor marks
/// its member as read, so whatever is left at the end was not expected.
private struct RequestArguments {
    let command: String
    var members: [String: JSONValue]
    /// The members asked for so far, to tell a sender with a typo what is accepted.
    var accepted: [String] = []

    init(command: String, members: [String: JSONValue]) {
        self.command = command
        self.members = members
        self.members["id"] = nil
        self.members["cmd"] = nil
    }

    /// The member's value; nil when absent or null (Python's `None`).
    mutating func take(_ name: String) -> JSONValue? {
        accepted.append(name)
        let value = members.removeValue(forKey: name)
        return value == .null ? nil : value
    }

    mutating func optionalGroup() throws(ProtocolError) -> String? {
        guard let value = take("group") else { return nil }
        guard let name = value.stringValue, !name.isEmpty else {
            throw ProtocolError(.badRequest, "'group' must be a non-empty string, got \(value.kindDescription)")
        }
        return name
    }

    mutating func requiredGroup() throws(ProtocolError) -> String {
        guard let name = try optionalGroup() else {
            throw ProtocolError(.badRequest, "missing 'group': '\(command)' needs the name of a group")
        }
        return name
    }

    /// A whole number ≥ 0: a type mismatch is a bad request, a negative
    /// number an invalid argument. `default: nil` makes the member required.
    mutating func count(_ name: String, default fallback: Int?, maximum: Int) throws(ProtocolError) -> Int {
        guard let value = take(name) else {
            if let fallback { return fallback }
            throw ProtocolError(.badRequest, "missing '\(name)': '\(command)' needs a non-negative integer")
        }
        guard let number = value.intValue else {
            let got = value.doubleValue.map { "\($0)" } ?? value.kindDescription
            throw ProtocolError(.badRequest, "'\(name)' must be a non-negative integer, got \(got)")
        }
        guard number >= 0 else {
            throw ProtocolError(.invalidArgument, "'\(name)' must be a non-negative integer, got \(number)")
        }
        guard number <= maximum else {
            throw ProtocolError(.invalidArgument, "'\(name)' must be at most \(maximum), got \(number)")
        }
        return number
    }

    /// `workerId` (`id` is the request's): a worker id, which means
    /// something only with a group.
    mutating func workerID(of group: String?) throws(ProtocolError) -> Int? {
        let given = (members["workerId"] ?? .null) != .null
        guard given else {
            _ = take("workerId")  // listed as accepted, for the unknown-member message
            return nil
        }
        let id = try count("workerId", default: nil, maximum: GroupConfig.maximumCount)
        guard group != nil else { throw ProtocolError(.badRequest, "'workerId' needs 'group': a worker id is one of a group's") }
        return id
    }

    /// `stream`: "stdout", "stderr" or "appd".
    mutating func stream() throws(ProtocolError) -> LogEntry.Stream? {
        guard let value = take("stream") else { return nil }
        let names = LogEntry.Stream.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard let name = value.stringValue else {
            throw ProtocolError(.badRequest, "'stream' must be one of \(names), got \(value.kindDescription)")
        }
        guard let stream = LogEntry.Stream(rawValue: name) else {
            throw ProtocolError(.invalidArgument, "'stream' must be one of \(names), got \"\(name)\"")
        }
        return stream
    }

    mutating func flag(_ name: String) throws(ProtocolError) -> Bool {
        guard let value = take(name) else { return false }
        guard let flag = value.boolValue else {
            throw ProtocolError(.badRequest, "'\(name)' must be true or false, got \(value.kindDescription)")
        }
        return flag
    }

    mutating func watchInterval() throws(ProtocolError) -> Double? {
        guard let value = take("watch") else { return nil }
        guard let seconds = value.doubleValue else {
            throw ProtocolError(.badRequest, "'watch' must be a number of seconds, got \(value.kindDescription)")
        }
        guard seconds.isFinite, seconds >= ControlCommand.minimumWatchInterval, seconds <= ControlCommand.maximumWatchInterval else {
            throw ProtocolError(.invalidArgument, "'watch' must be between \(ControlCommand.minimumWatchInterval) and "
                + "\(Int(ControlCommand.maximumWatchInterval)) seconds, got \(seconds)")
        }
        return seconds
    }

    /// A signal by name (`"HUP"`, `"SIGHUP"`) or number (`1`, `"1"`, and
    /// `0`, which checks that the processes exist).
    mutating func signal() throws(ProtocolError) -> UnixSignal {
        guard let value = take("signal") else {
            throw ProtocolError(.badRequest, "missing 'signal': give a name such as \"HUP\" or a number")
        }
        let signal: UnixSignal?
        switch value {
        case .string(let name): signal = UnixSignal(commandArgument: name)
        case .number: signal = value.intValue.flatMap { UnixSignal(commandArgument: String($0)) }
        default:
            throw ProtocolError(.badRequest, "'signal' must be a signal name or number, got \(value.kindDescription)")
        }
        guard let signal else {
            let shown = value.stringValue ?? value.doubleValue.map { "\($0)" } ?? ""
            throw ProtocolError(.invalidArgument, "'signal': unknown signal '\(shown)'")
        }
        return signal
    }

    func refuseUnread() throws(ProtocolError) {
        guard let unknown = members.keys.sorted().first else { return }
        let takes = accepted.isEmpty ? "no arguments" : accepted.map { "'\($0)'" }.joined(separator: ", ")
        throw ProtocolError(.badRequest, "unknown field '\(unknown)' for command '\(command)' (it takes \(takes))")
    }
}

extension UnixSignal {
    /// Signal 0: kill(2) delivers nothing, but says whether the process
    /// exists (the usual liveness probe, `kill -0`).
    public static let existenceCheck = UnixSignal(number: 0)

    /// A signal as the `signal` command takes it: what `init(name:)` reads,
    /// and also `0` (a config's stopSignal may not be 0, so that init refuses it).
    public init?(commandArgument text: String) {
        if text == "0" || text.uppercased() == "SIG0" {
            self = .existenceCheck
        } else if let signal = UnixSignal(name: text) {
            self = signal
        } else {
            return nil
        }
    }
}
