import Glibc

/// The master's own side of systemd's notify protocol: under
/// `Type=notify`, systemd considers the service started only when it sends
/// `READY=1`.
enum SystemdNotifier {
    /// Sends `state` (e.g. "READY=1") to `socketPath`, by default
    /// $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). Does
    /// nothing when there is no socket: not running under systemd.
    static func notify(
        _ state: String,
        socketPath: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }
    ) throws(SystemError) {
        guard let socketPath, !socketPath.isEmpty else { return }
        let address = try UnixSocketAddress(socketPath)
        let name = "sendto(NOTIFY_SOCKET \(socketPath))"
        let fd = try newSocket(domain: AF_UNIX, type: SOCK_DGRAM, name: name) { _ throws(SystemError) in }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        let sent = address.withSockaddr { pointer, length in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), pointer, length) }
        }
        try checked(name, sent)
    }
}
