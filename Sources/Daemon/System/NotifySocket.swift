import CSystem
import Glibc

/// The master's NOTIFY_SOCKET: children send systemd-style datagrams to it
/// (`READY=1`, `STATUS=...`, `APPSTATS={...}`).
///
/// SO_PASSCRED makes the kernel attach each sender's pid and uid, so the
/// master tells children apart by who they are, not by what they claim.
struct NotifySocket {
    /// One datagram from a child.
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

    /// Binds at `path` (a stale socket file is replaced), or in the abstract
    /// namespace when `path` starts with "@". Mode 0600: workers run as the
    /// master's user.
    init(path: String) throws(SystemError) {
        let name = "bind(notify socket \(path))"
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

    /// Closes the socket and unlinks its file (an abstract name has none).
    func remove() {
        close(fd)
        if !path.hasPrefix("@") { unlink(path) }
    }
}
