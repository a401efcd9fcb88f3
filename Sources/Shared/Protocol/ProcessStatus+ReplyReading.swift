extension ProcessStatus {
    /// The item object of a process line: the process's members and
    /// `"type": "process"`, in any order; unknown members are skipped, as
    /// the decoder skips them. nil for another type, a missing or ill-typed
    /// member, or anything the reader leaves to the decoder.
    static func read(itemFrom reader: inout JSONReader) -> ProcessStatus? {
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
            case "pid": return reader.read(optional: &pid) { $0.readInteger(Int32.self) }
            case "uptime": return reader.read(optional: &uptime) { $0.readDouble() }
            case "lastExit": return reader.read(optional: &lastExit) { LastExit.read(from: &$0) }
            case "backoffRemaining": return reader.read(optional: &backoffRemaining) { $0.readDouble() }
            case "rss": return reader.read(optional: &rss) { $0.readInteger(UInt64.self) }
            case "cpu": return reader.read(optional: &cpu) { $0.readDouble() }
            case "fds": return reader.read(optional: &fds) { $0.readInteger(Int.self) }
            case "threads": return reader.read(optional: &threads) { $0.readInteger(Int.self) }
            case "tcp": return reader.read(optional: &tcp) { readCounts(from: &$0) }
            // A null APPSTATS reads as absent: `decodeIfPresent` of a JSONValue? is nil for null.
            case "appStats": return reader.read(optional: &appStats) { $0.readValue() }
            case "statusText": return reader.read(optional: &statusText) { $0.readString() }
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
            case "status": return reader.read(optional: &status) { $0.readString() }
            case "requested": return reader.read(optional: &requested) { $0.readString() }
            default:
                return reader.skipValue()
            }
        }
        guard complete, let description, let at, let uptime else { return nil }
        return ProcessStatus.LastExit(description: description, status: status, at: at, uptime: uptime, requested: requested)
    }
}
