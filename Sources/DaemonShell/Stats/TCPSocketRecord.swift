/// One TCP socket as the kernel reports it, before anything is formatted.
///
/// Both sources (sock_diag and `/proc/net/tcp`) produce these, and a table
/// holds thousands that nobody asked about; only the few whose inode a
/// worker owns become `TCPConnection`s with their address strings.
struct TCPSocketRecord {
    var ipv6: Bool
    var localAddress: IPAddressWords
    var localPort: UInt16
    var remoteAddress: IPAddressWords
    var remotePort: UInt16
    /// The kernel's state number (`TCPState.rawValue`).
    var state: UInt8
    var sendQueue: UInt32
    var receiveQueue: UInt32
    /// 0 for sockets no fd refers to (TIME_WAIT, request sockets, orphans).
    var inode: UInt64

    /// nil for a state number this build does not know.
    var connection: TCPConnection? {
        guard let state = TCPState(rawValue: state) else { return nil }
        return TCPConnection(
            local: TCPEndpointText.format(ipv6: ipv6, address: localAddress, port: localPort),
            remote: TCPEndpointText.format(ipv6: ipv6, address: remoteAddress, port: remotePort),
            state: state,
            // sock_diag reports a listener's backlog limit as its send queue,
            // /proc/net/tcp reports 0; 0 keeps the two sources alike.
            sendQueue: state == .listen ? 0 : Int(sendQueue),
            receiveQueue: Int(receiveQueue),
            inode: inode
        )
    }
}
