import CSystem
import Glibc

/// Asks the kernel for its TCP sockets over netlink `sock_diag` (INET_DIAG),
/// the interface `ss` uses.
///
/// Why not just `/proc/net/tcp`: the kernel formats a text line for every
/// TCP socket of the network namespace there, TIME_WAIT ones included, and
/// a busy host has tens of thousands of those (17-29 ms per read measured).
/// sock_diag takes a state mask and skips unwanted states in the kernel,
/// and answers in binary with the inode of each socket.
enum SockDiagTCPDump {
    /// Calls `body` with every TCP socket (IPv4, then IPv6) whose state is in
    /// `states` (a mask of `TCPState.maskBit`s). Throws when netlink is
    /// unavailable (an old kernel, a seccomp profile) or the dump fails; the
    /// caller then falls back to `/proc/net/tcp`.
    static func forEachSocket(
        states: UInt32 = TCPState.ownableMask, _ body: (TCPSocketRecord) -> Void
    ) throws(SystemError) {
        let fd = cs_sock_diag_open()
        guard fd >= 0 else { throw .last("socket(NETLINK_SOCK_DIAG)") }
        defer { _ = close(fd) }
        // The kernel answers a dump at once; the timeout only guards the
        // event loop against a kernel that never does.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        // 32 KiB is the most the kernel puts in one datagram of a dump.
        let bufferSize = 32 * 1024
        let capacity = bufferSize / 64
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        let sockets = UnsafeMutablePointer<cs_tcp_socket>.allocate(capacity: capacity)
        defer { sockets.deallocate() }

        for (sequence, family) in [(UInt32(1), AF_INET), (UInt32(2), AF_INET6)] {
            let name = family == AF_INET ? "sock_diag(AF_INET)" : "sock_diag(AF_INET6)"
            guard cs_sock_diag_request_tcp(fd, family, states, sequence) == 0 else { throw .last(name) }
            var done: Int32 = 0
            while done == 0 {
                let count = cs_sock_diag_receive_tcp(fd, buffer, bufferSize, sequence, sockets, Int32(capacity), &done)
                guard count >= 0 else { throw .last(name) }
                for index in 0..<Int(count) {
                    body(record(sockets[index]))
                }
            }
        }
    }

    private static func record(_ socket: cs_tcp_socket) -> TCPSocketRecord {
        TCPSocketRecord(
            ipv6: Int32(socket.family) == AF_INET6,
            localAddress: unsafeBitCast(socket.local_address, to: IPAddressWords.self),
            localPort: socket.local_port,
            remoteAddress: unsafeBitCast(socket.remote_address, to: IPAddressWords.self),
            remotePort: socket.remote_port,
            state: socket.state,
            sendQueue: socket.send_queue,
            receiveQueue: socket.receive_queue,
            inode: socket.inode
        )
    }
}
