extension ControlReply {
    /// A `process` item line read by hand (`JSONReader`), the reverse of
    /// `ProcessStatus.replyLine`: appctl reads a thousand of these per
    /// `status` of a thousand workers. nil for every other line, and for a
    /// process line with anything the reader leaves to the decoder; the
    /// Codable path then reads it (or says why it cannot). Where this
    /// returns a reply, it is the one the decoder returns, which a test
    /// and the protocol fuzz target check.
    static func processItem(line: UnsafeBufferPointer<UInt8>) -> ControlReply? {
        var reader = JSONReader(line)
        var id: Int?
        var ok = false
        var done = false
        var process: ProcessStatus?
        let read = reader.readObject { reader, key in
            switch key {
            case "id":
                id = reader.readNull() ? nil : reader.readInteger(Int.self)
                return id != nil
            case "ok":
                ok = reader.readBool() ?? false
                return ok
            case "done":
                if reader.readNull() { return true }
                done = reader.readBool() ?? true
                return !done  // a final line: the decoder reads those
            case "item":
                process = ProcessStatus.read(itemFrom: &reader)
                return process != nil
            default:
                return reader.skipValue()
            }
        }
        guard read, reader.isAtEnd(), let id, ok, !done, let process else { return nil }
        return .item(id: id, .process(process))
    }
}

extension ProcessStatus {
    /// The item object of a process line: the process's members and
    /// `"type": "process"`, in any order; unknown members are skipped, as
    /// the decoder skips them. nil for another type, a missing or ill-typed
    /// member, or anything the reader leaves to the decoder.
    fileprivate static func read(itemFrom reader: inout JSONReader) -> ProcessStatus? {
        var isProcess = false
        var group: String?
        var id: Int?
        var state: State?
        var restarts: Int?
        // Optional members: nil when absent or null, as `decodeIfPresent` reads them.
        var pid: Int32?
        var uptime: Double?
        var lastExit: LastExit?
        var backoffRemaining: Double?
        var rss: UInt64?
        var cpu: Double?
        var fds: Int?
        var threads: Int?
        var tcp: [String: Int]?
        var appStats: JSONValue?
        var statusText: String?

        /// Reads an optional member into `slot`: true when it was null or well typed.
        func optional<Value>(_ slot: inout Value?, _ reader: inout JSONReader, _ read: (inout JSONReader) -> Value?) -> Bool {
            if reader.readNull() { return true }
            slot = read(&reader)
            return slot != nil
        }

        let complete = reader.readObject { reader, key in
            switch key {
            case "type":
                isProcess = reader.readString() == "process"
                return isProcess
            case "group":
                group = reader.readString()
                return group != nil
            case "id":
                id = reader.readInteger(Int.self)
                return id != nil
            case "state":
                state = reader.readString().flatMap(State.init(rawValue:))
                return state != nil
            case "restarts":
                restarts = reader.readInteger(Int.self)
                return restarts != nil
            case "pid": return optional(&pid, &reader) { $0.readInteger(Int32.self) }
            case "uptime": return optional(&uptime, &reader) { $0.readDouble() }
            case "lastExit": return optional(&lastExit, &reader) { LastExit.read(from: &$0) }
            case "backoffRemaining": return optional(&backoffRemaining, &reader) { $0.readDouble() }
            case "rss": return optional(&rss, &reader) { $0.readInteger(UInt64.self) }
            case "cpu": return optional(&cpu, &reader) { $0.readDouble() }
            case "fds": return optional(&fds, &reader) { $0.readInteger(Int.self) }
            case "threads": return optional(&threads, &reader) { $0.readInteger(Int.self) }
            case "tcp": return optional(&tcp, &reader) { readCounts(from: &$0) }
            // A null APPSTATS reads as absent: `decodeIfPresent` of a JSONValue? is nil for null.
            case "appStats": return optional(&appStats, &reader) { $0.readValue() }
            case "statusText": return optional(&statusText, &reader) { $0.readString() }
            default: return reader.skipValue()
            }
        }
        guard complete, isProcess, let group, let id, let state, let restarts else { return nil }
        return ProcessStatus(
            group: group, id: id, pid: pid, state: state, uptime: uptime, restarts: restarts, lastExit: lastExit,
            backoffRemaining: backoffRemaining, rss: rss, cpu: cpu, fds: fds, threads: threads, tcp: tcp,
            appStats: appStats, statusText: statusText)
    }

    /// `{"established": 3, ...}`.
    private static func readCounts(from reader: inout JSONReader) -> [String: Int]? {
        var counts: [String: Int] = [:]
        let read = reader.readObject { reader, key in
            guard let count = reader.readInteger(Int.self) else { return false }
            counts[key] = count
            return true
        }
        return read ? counts : nil
    }
}

extension ProcessStatus.LastExit {
    fileprivate static func read(from reader: inout JSONReader) -> ProcessStatus.LastExit? {
        var description: String?
        var status: String?
        var at: Double?
        var uptime: Double?
        var requested: String?
        let complete = reader.readObject { reader, key in
            switch key {
            case "description":
                description = reader.readString()
                return description != nil
            case "at":
                at = reader.readDouble()
                return at != nil
            case "uptime":
                uptime = reader.readDouble()
                return uptime != nil
            case "status":
                if reader.readNull() { return true }
                status = reader.readString()
                return status != nil
            case "requested":
                if reader.readNull() { return true }
                requested = reader.readString()
                return requested != nil
            default:
                return reader.skipValue()
            }
        }
        guard complete, let description, let at, let uptime else { return nil }
        return ProcessStatus.LastExit(description: description, status: status, at: at, uptime: uptime, requested: requested)
    }
}
