import Shared

/// What `appctl --json` prints: one JSON document per command (per snapshot
/// with `status --watch`, per line with `logs`), raw numbers throughout.
/// The shapes are documented in docs/PROTOCOL.md under "appctl --json".
enum JSONDocuments {
    /// `{"master": {...}, "processes": [...]}`
    struct Status: Encodable {
        var master: MasterStatus?
        var processes: [ProcessStatus]

        init(_ snapshot: StatusReport) {
            master = snapshot.master
            processes = snapshot.processes
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(master, forKey: .master)
            try container.encode(processes, forKey: .processes)
        }

        private enum CodingKeys: CodingKey { case master, processes }
    }

    /// `{"connections": [...]}`
    struct Connections: Encodable {
        var connections: [ConnectionEntry]
    }

    /// `{"replaced": [...], "reloaded": [...]}`, with `"error"` when the reload failed.
    struct Reload: Encodable {
        var replaced: [ProcessReplaced] = []
        var reloaded: [GroupReloaded] = []
        var error: ProtocolError?
    }

    /// `{"groups": [...]}`: one `describe` item per group.
    struct Describe: Encodable {
        var groups: [GroupDescription]
    }

    /// `{"error": {"code": "...", "message": "..."}}`
    struct Failure: Encodable {
        var error: ProtocolError
    }

    /// `status --json`, the same document as `line(Status(snapshot))`, with
    /// the process objects written by hand: a snapshot of a thousand
    /// processes through JSONEncoder was a third of appctl's time.
    static func statusLine(_ snapshot: StatusReport) -> String {
        var json = JSONText(capacity: 64 + 320 * snapshot.processes.count)
        json.beginObject()
        json.key("master")
        if let master = snapshot.master, let encoded = try? WireJSON.encode(master) { json.raw(encoded) } else { json.null() }
        json.key("processes")
        json.beginArray()
        for process in snapshot.processes where !process.write(into: &json, asItem: false) {
            return line(Status(snapshot))  // A figure JSON cannot carry: the encoder says so properly.
        }
        json.endArray()
        json.endObject()
        json.newline()
        return String(decoding: json.bytes, as: UTF8.self)
    }

    /// The document as one line, `\n` included.
    static func line(_ document: some Encodable) -> String {
        // Every figure here arrived as JSON, so it encodes back.
        let bytes = (try? WireJSON.encode(document)) ?? Array("null".utf8)
        return String(decoding: bytes, as: UTF8.self) + "\n"
    }
}
