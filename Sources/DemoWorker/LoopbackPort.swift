import Glibc

/// `web --port N`: the worker binds 127.0.0.1:N itself, like a server that
/// knows nothing of socket activation. SO_REUSEADDR lets it bind again at
/// once after a restart, while old connections still sit in TIME_WAIT, but,
/// unlike SO_REUSEPORT, never while another socket listens on the port: a
/// second copy of the program fails, which is what this option stands for.
/// The master then has to stop the old process before starting the new one.
enum LoopbackPort {
    static func bind(_ port: UInt16) -> Result<ListeningSocket, ListeningSocket.Failure> {
        let name = "127.0.0.1:\(port)"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(failure("socket", name)) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // listen can fail with EADDRINUSE too: two SO_REUSEADDR sockets may
        // both bind a port as long as neither listens yet.
        guard bound == 0, listen(fd, SOMAXCONN) == 0 else {
            let error = failure(bound == 0 ? "listen" : "bind", name)
            close(fd)
            return .failure(error)
        }
        return .success(ListeningSocket(fd: fd, name: name))
    }

    /// What went wrong, from errno. EADDRINUSE gets its own words: it is
    /// the failure this option exists to show.
    private static func failure(_ call: String, _ name: String) -> ListeningSocket.Failure {
        guard errno != EADDRINUSE else {
            return ListeningSocket.Failure(
                description: "\(name) is already in use: another process listens there, and this program cannot share its port")
        }
        return ListeningSocket.Failure(description: "\(call) \(name) failed: \(String(cString: strerror(errno)))")
    }
}
