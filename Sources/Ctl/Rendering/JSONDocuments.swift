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

    /// `{"metrics": "# HELP ..."}`: the exposition text whole, in one string.
    struct Metrics: Encodable {
        var metrics: String
    }

    /// `{"error": {"code": "...", "message": "..."}}`
    struct Failure: Encodable {
        var error: ProtocolError
    }

    /// `status --json`, the same document as `line(Status(snapshot))`, with
    /// the process objects written by hand: a snapshot of a thousand
    /// processes through JSONEncoder was a third of appctl's time. The
    /// whole-snapshot form of `StatusDocument`, which appctl fills as the
    /// items arrive; the tests compare it with the encoder's document.
    static func statusLine(_ snapshot: StatusReport) -> String {
        var document = StatusDocument()
        if let master = snapshot.master { document.setMaster(master) }
        for process in snapshot.processes { document.append(process) }
        return document.line(snapshot)
    }

    /// The `status --json` document written as its snapshot arrives: each
    /// process object is encoded while appctl waits for the next slice of
    /// rows, so little is left to do once the snapshot is complete.
    struct StatusDocument {
        private var master: [UInt8]?
        /// Room for a thousand rows from the start: growing by copies cost
        /// page faults for pages written twice.
        private var processes = JSONText(capacity: 256 * 1024)
        private var processCount = 0
        /// A figure JSON cannot carry was met: `line` falls back to the encoder.
        private var unwritable = false

        init() { processes.beginArray() }

        /// No master and no process yet.
        var isEmpty: Bool { master == nil && processCount == 0 }

        /// A process item line of request `id` in appd's own shape, its
        /// object copied as it came; false (nothing taken) for any other
        /// line, which is then read as usual.
        mutating func takeProcessLine(_ line: UnsafeBufferPointer<UInt8>, id: Int) -> Bool {
            guard let found = ProcessStatus.verbatimObject(inItemLine: line, id: id) else { return false }
            processes.raw(line, at: found.object, leavingOut: found.type)
            processCount += 1
            return true
        }

        mutating func setMaster(_ status: MasterStatus) {
            master = try? WireJSON.encode(status)
        }

        mutating func append(_ process: ProcessStatus) {
            processCount += 1
            if !unwritable, !process.write(into: &processes, asItem: false) { unwritable = true }
        }

        /// The document as one line, `\n` included, assembled in a single
        /// copy (appctl prints it once the last row has come); it ends the
        /// document. `snapshot` holds the same items, for the encoder to say
        /// properly what it cannot write.
        mutating func line(_ snapshot: StatusReport) -> String {
            if unwritable { return JSONDocuments.line(Status(snapshot)) }
            processes.endArray()
            let pieces = [Array(#"{"master":"#.utf8), master ?? Array("null".utf8), Array(#","processes":"#.utf8),
                          processes.bytes, Array("}\n".utf8)]
            return String(unsafeUninitializedCapacity: pieces.reduce(0) { $0 + $1.count }) { text in
                pieces.reduce(0) { offset, piece in
                    _ = UnsafeMutableBufferPointer(rebasing: text[offset...]).initialize(fromContentsOf: piece)
                    return offset + piece.count
                }
            }
        }
    }

    /// The document as one line, `\n` included.
    static func line(_ document: some Encodable) -> String {
        // Every figure here arrived as JSON, so it encodes back.
        let bytes = (try? WireJSON.encode(document)) ?? Array("null".utf8)
        return String(decoding: bytes, as: UTF8.self) + "\n"
    }
}
