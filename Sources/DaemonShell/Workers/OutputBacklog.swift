import Shared
import SupervisorCore

/// The most recent lines the workers printed, for `logs`: a ring of
/// `capacity` entries, so memory stays bounded however chatty they are.
struct OutputBacklog {
    let capacity: Int
    private var entries: [LogEntry] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ entry: LogEntry) {
        if entries.count < capacity {
            entries.append(entry)
        } else {
            entries[next] = entry
            next = (next + 1) % capacity
        }
    }

    /// The last `limit` lines process `pid` printed, oldest first.
    func recent(pid: Int32, limit: Int) -> [LogEntry] {
        let ordered = entries[next...] + entries[..<next]
        return Array(ordered.filter { $0.pid == pid }.suffix(limit))
    }

    /// The last `limit` entries of `group` (or of every group), oldest first.
    func recent(group: String?, limit: Int) -> [LogEntry] {
        let ordered = entries[next...] + entries[..<next]
        return Array(ordered.filter { group == nil || $0.group == group }.suffix(limit))
    }
}
