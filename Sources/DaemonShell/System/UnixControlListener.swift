import CSystem
import Glibc

/// The daemon's control socket: where `appctl` connects.
///
/// Mode 0600 from birth (bound under umask 0177) and checked per client with
/// SO_PEERCRED, so only the daemon's user (or root) can drive it. Non-blocking:
/// the master never waits on a client.
struct UnixControlListener {
    let fd: Int32
    let path: String

    /// Binds and listens at `path`, replacing a stale socket file a crashed
    /// daemon left behind. A live socket there means another daemon is
    /// serving it: that throws, and its socket is left alone.
    ///
    /// The socket is bound at `path` + ".new", listens, and only then is
    /// renamed to `path`: a client (appctl run the moment the file appears,
    /// a test waiting for it) never finds a socket file that refuses its
    /// connection because listen(2) has not been called yet. The socket's
    /// lock file (`DaemonResources`) keeps a second daemon from racing this.
    init(path: String, backlog: Int32 = 128) throws(SystemError) {
        do throws(SystemError) {
            try UnixSocketFile.removeStaleSocket(at: path, type: SOCK_STREAM, name: "bind(\(path))")
        } catch where error.errno == EADDRINUSE {
            throw SystemError(call: "control socket \(path)", errno: EADDRINUSE, reason: "another daemon is listening there")
        }
        let staging = path + ".new"
        fd = try UnixSocketFile.bind(path: staging, type: SOCK_STREAM, privateMode: true, name: "bind(\(staging))")
        self.path = path
        do throws(SystemError) {
            try checked("listen(\(path))", listen(fd, backlog))
            try FileIO.setNonBlocking(fd)
            try checked("rename(\(staging), \(path))", rename(staging, path))
        } catch {
            close(fd)
            unlink(staging)
            throw error
        }
    }

    /// A new client, non-blocking and close-on-exec; nil when none is waiting.
    func accept() throws(SystemError) -> Int32? {
        try ListeningSocket.accept(fd, name: path)
    }

    /// Closes the socket and unlinks its file: only the daemon that bound it
    /// does this, on its way out.
    func remove() {
        close(fd)
        unlink(path)
    }

    /// Who is on the other end of a connected unix socket, as the kernel saw
    /// it at connect time (it cannot be forged by the client).
    static func peerCredentials(_ fd: Int32) -> (pid: Int32, uid: UInt32, gid: UInt32)? {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        return cs_peer_credentials(fd, &pid, &uid, &gid) == 0 ? (pid, uid, gid) : nil
    }
}
