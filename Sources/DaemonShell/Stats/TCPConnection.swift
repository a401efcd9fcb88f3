/// One TCP socket as an operator reads it: the row of `connections`.
struct TCPConnection: Hashable, Sendable {
    /// "127.0.0.1:8080", "[::1]:8080"; an IPv4 peer of an IPv6 socket
    /// (::ffff:a.b.c.d) is shown as plain IPv4.
    var local: String
    var remote: String
    var state: TCPState
    /// Bytes sent but not yet acknowledged; 0 for a listener.
    var sendQueue: Int
    /// Bytes received but not yet read; for a listener, connections waiting
    /// to be accepted.
    var receiveQueue: Int
    /// The socket's inode: what `/proc/PID/fd/N -> socket:[inode]` names.
    var inode: UInt64
}
