/// One TCP connection owned by a worker process: an item of `connections`.
public struct ConnectionEntry: Hashable, Sendable, Codable {
    public var group: String
    public var id: Int
    public var pid: Int32
    /// "127.0.0.1:8080", "[::1]:8080".
    public var local: String
    public var remote: String
    /// The kernel's name for the state, upper-case as `ss` prints it: "ESTABLISHED".
    public var state: String
    /// Bytes waiting to be sent / read.
    public var sendQueue: Int
    public var receiveQueue: Int

    public init(
        group: String, id: Int, pid: Int32, local: String, remote: String, state: String, sendQueue: Int,
        receiveQueue: Int
    ) {
        self.group = group
        self.id = id
        self.pid = pid
        self.local = local
        self.remote = remote
        self.state = state
        self.sendQueue = sendQueue
        self.receiveQueue = receiveQueue
    }
}
