/// One request line: `{"id": 1, "cmd": "status", "group": "web"}`.
///
/// The `id` is the client's; every reply line carries it back, which is what
/// lets a client pipeline several requests on one connection.
public struct ControlRequest: Hashable, Sendable {
    public var id: Int
    public var command: ControlCommand

    public init(id: Int, command: ControlCommand) {
        self.id = id
        self.command = command
    }

    /// The request as one line, `\n` included, ready to write: written by
    /// `JSONText`, the same bytes as `WireJSON` but without the encoder's
    /// start-up cost, which every appctl command would pay before the
    /// daemon sees its request.
    public func encodedLine() -> [UInt8] {
        var members = command.arguments
        members["id"] = .number(Double(id))
        members["cmd"] = .string(command.name)
        var json = JSONText(capacity: 64)
        // Strings, whole numbers, booleans and a finite `watch`: always written.
        json.value(.object(members))
        json.newline()
        return json.bytes
    }

    /// Reads one request line (without its newline, as `LineFramer` yields it).
    ///
    /// A rejected request keeps its `id` when one could be read, so the
    /// error reply reaches the right caller; otherwise the reply's id is null.
    public init(line: some Sequence<UInt8>) throws(RejectedRequest) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            throw RejectedRequest(id: nil, error: error)
        }
        guard let members = value.objectValue else {
            throw RejectedRequest(id: nil, error: ProtocolError(.badRequest, "a request must be a JSON object, got \(value.kindDescription)"))
        }
        guard let idValue = members["id"], idValue != .null else {
            throw RejectedRequest(id: nil, error: ProtocolError(.badRequest, "missing 'id': every request needs an integer id"))
        }
        guard let id = idValue.intValue else {
            throw RejectedRequest(id: nil, error: ProtocolError(.badRequest, "'id' must be an integer, got \(idValue.kindDescription)"))
        }
        guard let cmdValue = members["cmd"], cmdValue != .null else {
            throw RejectedRequest(id: id, error: ProtocolError(.badRequest, "missing 'cmd': every request names a command"))
        }
        guard let name = cmdValue.stringValue else {
            throw RejectedRequest(id: id, error: ProtocolError(.badRequest, "'cmd' must be a string, got \(cmdValue.kindDescription)"))
        }
        do {
            self.init(id: id, command: try ControlCommand(name: name, members: members))
        } catch {
            throw RejectedRequest(id: id, error: error)
        }
    }
}

/// A request line the daemon will not carry out, with the id to answer it
/// under (nil when the line had no readable id).
public struct RejectedRequest: Error, Hashable, Sendable {
    public var id: Int?
    public var error: ProtocolError

    public init(id: Int?, error: ProtocolError) {
        self.id = id
        self.error = error
    }

    /// The one reply line that answers it.
    public var reply: ControlReply { .error(id: id, error) }
}
