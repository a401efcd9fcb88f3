import Glibc

/// systemd socket activation (sd_listen_fds(3)) on the receiving side: the
/// master binds the sockets once and hands them down at fds 3... LISTEN_PID
/// must name this very process, so a LISTEN_FDS inherited by some grandchild
/// that never got the fds is not trusted.
enum SocketActivation {
    static let firstFD: Int32 = 3

    /// The first passed socket, checked to be a listening socket, made
    /// close-on-exec and non-blocking. Non-blocking matters because sibling
    /// workers accept from the same socket: after poll says "readable", a
    /// sibling may take the connection first, and a blocking accept would then
    /// hang the whole event loop. (O_NONBLOCK is a property of the shared open
    /// file, so the master's copy becomes non-blocking too; the master only
    /// holds the socket, it never accepts on it.)
    static func firstListeningSocket() -> Result<ListeningSocket, ListeningSocket.Failure> {
        guard let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }) else {
            return .failure(ListeningSocket.Failure(description: "LISTEN_FDS is not set: no listening socket was passed (run under appd with a `listen` address, or use --port N)"))
        }
        guard let count = Int32(countText), count >= 1 else {
            return .failure(ListeningSocket.Failure(description: "LISTEN_FDS='\(countText)' passes no socket"))
        }
        let pidText = getenv("LISTEN_PID").map { String(cString: $0) } ?? ""
        guard Int32(pidText) == getpid() else {
            return .failure(ListeningSocket.Failure(description: "LISTEN_PID='\(pidText)' is not this process (\(getpid())): the sockets were meant for another process"))
        }

        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(firstFD, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting == 1 else {
            return .failure(ListeningSocket.Failure(description: "fd \(firstFD) is not a listening socket"))
        }
        _ = fcntl(firstFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(firstFD, F_SETFL, fcntl(firstFD, F_GETFL) | O_NONBLOCK)
        return .success(ListeningSocket(fd: firstFD, name: "fd \(firstFD)"))
    }
}
