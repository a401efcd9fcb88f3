/// A TCP socket's state, numbered as the kernel numbers it (include/net/tcp_states.h)
/// in `/proc/net/tcp` and in sock_diag answers.
enum TCPState: UInt8, CaseIterable, Hashable, Sendable {
    case established = 1
    case synSent
    case synReceived
    case finWait1
    case finWait2
    case timeWait
    case close
    case closeWait
    case lastAck
    case listen
    case closing
    /// A connection request not yet accepted (a "request socket"): has no inode.
    case newSynReceived

    /// The kernel's name, as `/proc/net/tcp` documentation and `netstat` spell it: `ESTABLISHED`, `TIME_WAIT`.
    var name: String {
        switch self {
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synReceived: "SYN_RECV"
        case .finWait1: "FIN_WAIT1"
        case .finWait2: "FIN_WAIT2"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .closing: "CLOSING"
        case .newSynReceived: "NEW_SYN_RECV"
        }
    }

    /// The lower-case name, the key of a status row's `tcp` counts: `established`, `time_wait`.
    var key: String { name.lowercased() }

    /// The bit of this state in a sock_diag state mask (TCPF_* = 1 << TCP_*).
    var maskBit: UInt32 { 1 << UInt32(rawValue) }

    /// The states worth asking sock_diag for: every one that can belong to
    /// an open fd. TIME_WAIT and request sockets (NEW_SYN_RECV) have no
    /// inode, so no process owns them, and on a busy host they outnumber
    /// everything else: leaving them out is what makes sock_diag fast.
    static let ownableMask: UInt32 = allCases
        .filter { $0 != .timeWait && $0 != .newSynReceived }
        .reduce(0) { $0 | $1.maskBit }
}
