/// Which lines of the groups' histories a `logs` request wants: one group
/// or all, one worker id of it or all, one stream or all.
public struct LogFilter: Hashable, Sendable {
    public var group: String?
    /// A worker id of `group` (a request gives one only with a group).
    public var id: Int?
    public var stream: LogEntry.Stream?

    public init(group: String? = nil, id: Int? = nil, stream: LogEntry.Stream? = nil) {
        self.group = group
        self.id = id
        self.stream = stream
    }

    public func accepts(group: String, id: Int, stream: LogEntry.Stream) -> Bool {
        (self.group == nil || self.group == group) && (self.id == nil || self.id == id) && (self.stream == nil || self.stream == stream)
    }

    public func accepts(_ entry: LogEntry) -> Bool { accepts(group: entry.group, id: entry.id, stream: entry.stream) }
}
