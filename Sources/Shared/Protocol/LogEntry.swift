/// A `logs` item: one line a worker wrote to its stdout or stderr, as the
/// master captured it.
public struct LogEntry: Hashable, Sendable, Codable {
    /// When the master read it, Unix seconds.
    public var time: Double
    public var group: String
    public var id: Int
    public var pid: Int32
    public var stream: Stream
    /// The line without its newline.
    public var line: String

    public enum Stream: String, Hashable, Sendable, Codable {
        case stdout, stderr
    }

    public init(time: Double, group: String, id: Int, pid: Int32, stream: Stream, line: String) {
        self.time = time
        self.group = group
        self.id = id
        self.pid = pid
        self.stream = stream
        self.line = line
    }
}
