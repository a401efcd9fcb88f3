import Shared
import SupervisorCore

/// The listening sockets the master binds once and hands down to every
/// worker of a group at fd 3.. (systemd socket activation).
///
/// The master keeps its own copy open across restarts and reloads, so the
/// kernel keeps queueing connections while a worker is replaced: a reload
/// never refuses a connection.
final class ListenerRegistry {
    private var sockets: [ListenAddress: Int32] = [:]

    /// Binds every address of `config` not bound yet. All or nothing: when
    /// one bind fails, the sockets this call opened are closed again, so a
    /// refused reload leaves no trace.
    func bindAll(for config: DaemonConfig) throws(SystemError) {
        var opened: [ListenAddress] = []
        for address in config.groups.flatMap(\.listen) where sockets[address] == nil {
            do {
                sockets[address] = try ListeningSocket.bind(address, permissions: config.socketPermissions(for: address))
                opened.append(address)
            } catch {
                for address in opened { FileIO.close(sockets.removeValue(forKey: address)!) }
                throw error
            }
        }
    }

    /// Closes sockets none of `groups` uses any more. Workers still
    /// running with a copy keep theirs until they exit.
    func closeUnused(by groups: [GroupConfig]) {
        let used = Set(groups.flatMap(\.listen))
        for (address, fd) in sockets where !used.contains(address) {
            FileIO.close(fd)
            sockets[address] = nil
            if case .unix(let path) = address { unlinkSocket(path) }
        }
    }

    /// The fds for a group's addresses, in order, with their LISTEN_FDNAMES.
    func descriptors(for group: GroupConfig) -> (fds: [Int32], names: [String]) {
        let fds = group.listen.compactMap { sockets[$0] }
        return (fds, group.listen.map(Self.fdName))
    }

    /// Removes unix socket files at exit.
    func closeAll() {
        for (address, fd) in sockets {
            FileIO.close(fd)
            if case .unix(let path) = address { unlinkSocket(path) }
        }
        sockets.removeAll()
    }

    /// A name for LISTEN_FDNAMES (no colons allowed there): `tcp-127.0.0.1-8080`.
    static func fdName(_ address: ListenAddress) -> String {
        switch address {
        case .tcp(let host, let port): return "tcp-\(host.replacingColons)-\(port)"
        case .unix(let path): return "unix-" + (path.split(separator: "/").last.map(String.init) ?? "socket").replacingColons
        }
    }

    private func unlinkSocket(_ path: String) { _ = path.withCString { unlink($0) } }
}

import Glibc

private extension String {
    var replacingColons: String { String(map { $0 == ":" ? "_" : $0 }) }
}
