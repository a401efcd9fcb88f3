/// One reply line. A request is answered by zero or more `item` lines and
/// then exactly one final line, `done` or `error`, all carrying its id:
///
///     {"id":1,"item":{"type":"process",...},"ok":true}
///     {"done":true,"id":1,"ok":true,"result":{"processes":4}}
///     {"done":true,"error":{"code":"unknown_group","message":"..."},"id":2,"ok":false}
public enum ControlReply: Hashable, Sendable {
    /// One streamed result; more lines follow.
    case item(id: Int, ControlItem)
    /// The request succeeded; nothing more follows for this id.
    case done(id: Int, ControlResult)
    /// The request failed; nothing more follows for this id. The id is nil
    /// when the request was unreadable.
    case error(id: Int?, ProtocolError)

    public var id: Int? {
        switch self {
        case .item(let id, _), .done(let id, _): return id
        case .error(let id, _): return id
        }
    }

    /// Whether this line ends the reply stream of its id.
    public var isFinal: Bool {
        if case .item = self { return false }
        return true
    }

    /// The reply as one line, `\n` included, ready to write.
    ///
    /// Never fails: a payload that cannot be encoded (a NaN in a figure)
    /// becomes an `internal` error for the same id, so the client still gets
    /// its final line instead of waiting forever.
    public func encodedLine() -> [UInt8] {
        if case .item(let id, .process(let process)) = self, let line = process.replyLine(id: id) { return line }
        var line: [UInt8]
        do {
            line = try WireJSON.encode(self)
        } catch {
            let fallback = ControlReply.error(id: id, ProtocolError(.internal, "appd could not encode its reply: \(error)"))
            line = (try? WireJSON.encode(fallback)) ?? []
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Reads one reply line (without its newline). A process item (the
    /// line a `status` sends once per worker) and a `done` line are read by
    /// hand when they can be (`readByHand(line:)`); every other line, and
    /// every error, comes from the decoder.
    public init(line: some Sequence<UInt8>) throws(MalformedReply) {
        if let reply = line.withContiguousStorageIfAvailable(ControlReply.readByHand(line:)) ?? nil {
            self = reply
            return
        }
        do {
            self = try WireJSON.decode(ControlReply.self, from: line)
        } catch {
            throw MalformedReply(line: String(decoding: Array(line).prefix(200), as: UTF8.self), reason: "\(error)")
        }
    }
}

extension ControlReply: Codable {
    private enum Key: String, CodingKey {
        case id, ok, done, item, result, error
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .item(let id, let item):
            try container.encode(id, forKey: .id)
            try container.encode(true, forKey: .ok)
            try container.encode(item, forKey: .item)
        case .done(let id, let result):
            try container.encode(id, forKey: .id)
            try container.encode(true, forKey: .ok)
            try container.encode(true, forKey: .done)
            try container.encode(result, forKey: .result)
        case .error(let id, let error):
            // An unreadable request is answered with an explicit `"id": null`.
            try container.encode(id, forKey: .id)
            try container.encode(false, forKey: .ok)
            try container.encode(true, forKey: .done)
            try container.encode(error, forKey: .error)
        }
    }

    /// `ok: false` always ends the stream, even without `done`, so a client
    /// never waits after an error.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let id = try container.decodeIfPresent(Int.self, forKey: .id)
        let ok = try container.decode(Bool.self, forKey: .ok)
        let done = try container.decodeIfPresent(Bool.self, forKey: .done) ?? false
        if !ok {
            self = .error(id: id, try container.decode(ProtocolError.self, forKey: .error))
            return
        }
        guard let id else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: container, debugDescription: "a successful reply needs an id")
        }
        if done {
            self = .done(id: id, try container.decodeIfPresent(ControlResult.self, forKey: .result) ?? ControlResult())
        } else {
            self = .item(id: id, try container.decode(ControlItem.self, forKey: .item))
        }
    }
}

/// A line from the daemon that is not a reply this client can read.
public struct MalformedReply: Error, Hashable, Sendable, CustomStringConvertible {
    /// The start of the offending line.
    public var line: String
    public var reason: String

    public var description: String { "unreadable reply from appd (\(reason)): \(line)" }
}
