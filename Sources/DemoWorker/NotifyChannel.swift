import Glibc

/// sd_notify(3) without libsystemd: `KEY=value` datagrams, one assignment
/// each, to the unix socket named by NOTIFY_SOCKET. One socket is opened and reused. Sends
/// never block (a master too busy to read must not stall the worker) and
/// failures are ignored: notifications are advisory, and the worker also runs
/// with no NOTIFY_SOCKET at all.
struct NotifyChannel {
    /// -1 when there is nowhere to send.
    private let socketFD: Int32
    private let address: sockaddr_un
    private let addressLength: socklen_t

    static let disabled = NotifyChannel(socketFD: -1, address: sockaddr_un(), addressLength: 0)

    /// Reads NOTIFY_SOCKET: an absolute path, or "@name" for the abstract
    /// namespace (a leading NUL in sun_path, and an address length that
    /// covers exactly the name, since abstract names are not NUL-terminated).
    static func fromEnvironment() -> NotifyChannel {
        guard let raw = getenv("NOTIFY_SOCKET"), raw.pointee != 0 else { return .disabled }
        let target = String(cString: raw)
        var pathBytes = Array(target.utf8)
        let isAbstract = pathBytes.first == UInt8(ascii: "@")
        if isAbstract {
            pathBytes[0] = 0
        } else {
            pathBytes.append(0)
        }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count <= capacity else {
            Log.err("demo-worker: NOTIFY_SOCKET '\(target)' is longer than \(capacity) bytes; not notifying")
            return .disabled
        }
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: pathBytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!

        let socketFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { return .disabled }
        return NotifyChannel(
            socketFD: socketFD, address: address, addressLength: socklen_t(pathOffset + pathBytes.count))
    }

    /// Sends one assignment such as "READY=1" as its own datagram.
    func send(_ assignment: String) {
        guard socketFD >= 0 else { return }
        var destination = address
        let bytes = Array(assignment.utf8)
        _ = withUnsafePointer(to: &destination) { addressPointer in
            addressPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { payload in
                    sendto(socketFD, payload.baseAddress, payload.count,
                           Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), socketAddress, addressLength)
                }
            }
        }
    }
}
