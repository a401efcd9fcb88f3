import CSystem
import Glibc

/// One worker's NOTIFY_SOCKET: a unix datagram socket the master binds for
/// that worker alone (see `NotifyChannels`), where it sends systemd-style
/// datagrams (`READY=1`, `STATUS=...`, `APPSTATS={...}`).
///
/// SO_PASSCRED makes the kernel attach each sender's pid and uid, so the
/// master tells senders apart by who they are, not by what they claim.
///
/// One socket per worker rather than one for all: the kernel queues at most
/// `net.unix.max_dgram_qlen` datagrams (10 by default) on a unix datagram
/// socket, whatever SO_RCVBUF says (a 4 MiB receive buffer still took 11
/// datagrams, then EAGAIN: the queue length, not the bytes, is the limit, so
/// no buffer size is set here). Shared by fifty workers starting at once
/// while the master is busy, that queue lost READY=1s; each worker now has a
/// queue of its own.
struct NotifyChannel {
    /// One datagram from a worker (or whoever else could reach the socket).
    struct Datagram: Equatable, Sendable {
        /// The sender's pid as the kernel saw it; 0 if it gave none.
        var pid: Int32
        var uid: UInt32
        var payload: [UInt8]
        /// The datagram was longer than `maximumDatagram`: the rest is lost.
        var truncated: Bool
    }

    /// systemd itself accepts no more for a notification message.
    static let maximumDatagram = 4096

    let fd: Int32
    let path: String
    /// The user the socket file belongs to: appd's, or the worker's when
    /// it runs as another user (`NotifyDirectory.handOver`). Only that user
    /// and root can send on it.
    var owner: UInt32 = geteuid()

    /// Binds a non-blocking, close-on-exec datagram socket at `path`, mode
    /// 0600 from birth, or in the abstract namespace when `path` starts
    /// with "@".
    init(path: String) throws(SystemError) {
        let name = "bind(notify channel \(path))"
        fd = try UnixSocketFile.bind(path: path, type: SOCK_DGRAM, privateMode: true, name: name)
        self.path = path
        do throws(SystemError) {
            try checked("setsockopt(\(path), SO_PASSCRED)", cs_set_pass_credentials(fd))
            try FileIO.setNonBlocking(fd)
        } catch {
            remove()
            throw error
        }
    }

    /// The next datagram; nil when none is waiting. File descriptors a
    /// sender passes along are closed unread.
    func receive() throws(SystemError) -> Datagram? {
        var buffer = [UInt8](repeating: 0, count: Self.maximumDatagram)
        var pid: pid_t = 0
        var uid: uid_t = 0
        var truncated: Int32 = 0
        let count = buffer.withUnsafeMutableBytes {
            cs_recv_with_credentials(fd, $0.baseAddress, $0.count, &pid, &uid, &truncated)
        }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SystemError.last("recvmsg(\(path))")
        }
        return Datagram(pid: pid, uid: uid, payload: Array(buffer[..<count]), truncated: truncated != 0)
    }

    /// Closes the socket and unlinks its file (an abstract name has none):
    /// a sender then gets ENOENT at once instead of filling a queue nobody reads.
    func remove() {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }
}
