/// A `logs` item: one line of a group's history, as the master captured
/// it: what a worker wrote to its stdout or stderr, or what appd said
/// about the worker (`appd`: started, ready, exited, backing off...).
public struct LogEntry: Hashable, Sendable, Codable {
    /// When the master read it (or said it), Unix seconds.
    public var time: Double
    public var group: String
    public var id: Int
    /// nil only for an `appd` line about a worker with no process: a spawn
    /// failure, a backoff. Always present on the wire (null then).
    public var pid: Int32?
    public var stream: Stream
    /// The line without its newline.
    public var line: String

    public enum Stream: String, Hashable, Sendable, Codable, CaseIterable {
        case stdout, stderr
        /// appd's own line about the worker.
        case appd
    }

    public init(time: Double, group: String, id: Int, pid: Int32?, stream: Stream, line: String) {
        self.time = time
        self.group = group
        self.id = id
        self.pid = pid
        self.stream = stream
        self.line = line
    }

    /// `web#0[4711]`, or `web#0` without a process: the one spelling of a
    /// worker in every log.
    public var worker: String { "\(group)#\(id)" + (pid.map { "[\($0)]" } ?? "") }

    private enum CodingKeys: String, CodingKey { case time, group, id, pid, stream, line }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time, forKey: .time)
        try container.encode(group, forKey: .group)
        try container.encode(id, forKey: .id)
        try container.encode(pid, forKey: .pid)
        try container.encode(stream, forKey: .stream)
        try container.encode(line, forKey: .line)
    }
}
