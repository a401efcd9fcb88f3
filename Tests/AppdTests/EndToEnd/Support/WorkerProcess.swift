

extension EndToEnd {
    /// A child of the master as /proc shows it: its pid and the group and worker
    /// id the master gave it in APP_GROUP / APP_WORKER_ID.
    struct WorkerProcess: Hashable, Sendable, CustomStringConvertible {
        var pid: Int32
        var group: String
        var id: Int

        var description: String { "\(group)#\(id)[\(pid)]" }
    }
}

extension Array where Element == EndToEnd.WorkerProcess {
    func inGroup(_ name: String) -> [EndToEnd.WorkerProcess] { filter { $0.group == name }.sorted { $0.id < $1.id } }

    /// Worker id → pid, for one group.
    func pidsByID(_ group: String) -> [Int: Int32] {
        Dictionary(inGroup(group).map { ($0.id, $0.pid) }, uniquingKeysWith: { first, _ in first })
    }
}
