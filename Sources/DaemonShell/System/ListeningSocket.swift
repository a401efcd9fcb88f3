import CSystem
import Glibc
import Shared
import SupervisorCore

/// The sockets the master binds once for a group and hands to every worker at
/// fd 3.. (LISTEN_FDS). They stay open across reloads, so a reload never
/// refuses a connection: old and new workers accept from the same queue.
enum ListeningSocket {
    /// A bound, listening, close-on-exec socket for `address`; blocking, as
    /// systemd hands them down. TCP: "*", "" or "0.0.0.0" mean every IPv4
    /// address, "localhost" means 127.0.0.1, a host with ":" is an IPv6
    /// literal (IPV6_V6ONLY, so "::" and "0.0.0.0" can both be bound).
    /// Unix: the socket's directory must pass `RuntimeDirectory`'s checks
    /// (it is not made); a stale socket file is replaced, a live one
    /// refused; `permissions` are applied as `bindUnix` says.
    static func bind(
        _ address: ListenAddress, permissions: UnixSocketPermissions? = nil, backlog: Int32 = 1024
    ) throws(SystemError) -> Int32 {
        let name = "bind(\(address))"
        let fd = switch address {
        case .tcp(let host, let port): try bindTCP(host: host, port: port, name: name)
        case .unix(let path): try bindUnix(path: path, permissions: permissions, name: name)
        }
        if listen(fd, backlog) != 0 {
            let error = SystemError.last("listen(\(address))")
            close(fd)
            if case .unix(let path) = address { unlink(path) }
            throw error
        }
        return fd
    }

    /// With a `mode`, the socket is bound private (0600, under umask 0177),
    /// then given its owner and group, then its mode: never more open than
    /// asked, not even for an instant. Without one, the kernel's default
    /// (0777 less the umask). The file is changed through its directory's
    /// fd, after checking that the entry is a socket (a symlink is never
    /// followed).
    private static func bindUnix(path: String, permissions: UnixSocketPermissions?, name: String) throws(SystemError) -> Int32 {
        let (directory, entry) = try RuntimeDirectory.open(parentOf: path, creating: false)
        defer { directory.close() }
        let fd = try UnixSocketFile.bind(path: path, type: SOCK_STREAM, privateMode: permissions?.mode != nil, name: name)
        guard let permissions, !permissions.isEmpty else { return fd }
        do throws(SystemError) {
            var info = stat()
            try checked("stat(\(path))", fstatat(directory.fd, entry, &info, AT_SYMLINK_NOFOLLOW))
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw SystemError(call: name, errno: EEXIST, reason: "\(path) was replaced by something else right after bind")
            }
            if permissions.owner != nil || permissions.group != nil {
                let owner = permissions.owner ?? uid_t.max  // -1: leave as it is
                let group = permissions.group ?? gid_t.max
                try checked("chown(\(path), \(permissions.owner.map(String.init) ?? "-"):\(permissions.group.map(String.init) ?? "-"))",
                            fchownat(directory.fd, entry, owner, group, AT_SYMLINK_NOFOLLOW))
            }
            if let mode = permissions.mode {
                try checked("chmod(\(path), \(String(mode, radix: 8)))", fchmodat(directory.fd, entry, mode_t(mode), 0))
            }
        } catch {
            close(fd)
            directory.unlink(entry)
            throw error
        }
        return fd
    }

    /// A new connection on a listening socket the master reads itself (the
    /// control socket, the metrics listener), non-blocking and
    /// close-on-exec; nil when none is waiting. `name` says which listener,
    /// for the error.
    static func accept(_ fd: Int32, name: String) throws(SystemError) -> Int32? {
        let client = retryingInterrupts { cs_accept(fd) }
        if client >= 0 { return client }
        switch errno {
        case EAGAIN, EWOULDBLOCK, ECONNABORTED: return nil
        default: throw SystemError.last("accept(\(name))")
        }
    }

    /// The port a TCP socket is bound to: how a caller learns the port the
    /// kernel picked for port 0.
    static func localPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: storage) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET: UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
            case AF_INET6: UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            default: nil
            }
        }
    }

    private static func bindTCP(host: String, port: UInt16, name: String) throws(SystemError) -> Int32 {
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
                throw SystemError(call: name, errno: EINVAL, reason: "'\(host)' is not an IPv6 address")
            }
            return try newSocket(domain: AF_INET6, type: SOCK_STREAM, name: name) { fd throws(SystemError) in
                try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, name: name)
                try bindAddress(fd, address, name: name)
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let literal = switch host {
        case "*", "": "0.0.0.0"
        case "localhost": "127.0.0.1"
        default: host
        }
        guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else {
            throw SystemError(call: name, errno: EINVAL, reason: "'\(host)' is not an IPv4 address")
        }
        return try newSocket(domain: AF_INET, type: SOCK_STREAM, name: name) { fd throws(SystemError) in
            try bindAddress(fd, address, name: name)
        }
    }

    /// SO_REUSEADDR lets a restarted master bind again while the previous
    /// run's connections sit in TIME_WAIT.
    private static func bindAddress<Address>(_ fd: Int32, _ address: Address, name: String) throws(SystemError) {
        try setOption(fd, SOL_SOCKET, SO_REUSEADDR, name: name)
        let result = withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
        try checked(name, result)
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ option: Int32, name: String) throws(SystemError) {
        var on: Int32 = 1
        try checked(name, setsockopt(fd, level, option, &on, socklen_t(MemoryLayout<Int32>.size)))
    }
}
