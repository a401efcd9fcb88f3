/// The file permissions of a unix socket in a group's `listen`, written
/// `{address: "unix:run/web.sock", mode: "0660", owner: "app", group: "www-data"}`
/// (systemd's `SocketMode=`, `SocketUser=`, `SocketGroup=`), so that a proxy
/// running as another user can connect: connecting to a unix socket needs
/// write permission on its file.
///
/// With `mode` the socket is bound private (0600) and changed to `mode`
/// after `owner` and `group`, so it is never more open than asked. Without
/// `mode` the kernel's default applies (0777 less the umask; under the
/// usual umask 022 only the owner may connect). Users and groups are
/// looked up when the config is read (a name that does not exist is a
/// config error) and may be given as numbers.
public struct UnixSocketPermissions: Hashable, Sendable {
    /// Permission bits, at most 0o777.
    public var mode: UInt32?
    public var owner: UInt32?
    public var group: UInt32?

    public init(mode: UInt32? = nil, owner: UInt32? = nil, group: UInt32? = nil) {
        self.mode = mode
        self.owner = owner
        self.group = group
    }

    public var isEmpty: Bool { mode == nil && owner == nil && group == nil }
}

extension DaemonConfig {
    /// The permissions configured for a unix socket of some group's `listen`.
    public func socketPermissions(for address: ListenAddress) -> UnixSocketPermissions? {
        groups.lazy.compactMap { $0.socketPermissions[address] }.first
    }
}
