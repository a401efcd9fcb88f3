#if canImport(Glibc)
import Glibc
#endif

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

extension ConfigLoader.Rule where Output == UInt32 {
    /// `"0660"` or `"660"`: octal digits in a string (a JSON number 0660 would
    /// be read as decimal 660), permission bits only.
    static var socketMode: Self {
        ConfigLoader.Rule<String>.kind("an octal mode in a string, such as \"0660\"") { value in
            if case .string(let text) = value { return text }
            return nil
        }
        .then { text in
            guard (1...4).contains(text.count), text.allSatisfy({ ("0"..."7").contains($0) }), let mode = UInt32(text, radix: 8),
                  mode <= 0o777
            else {
                return .failure(ConfigLoader.Refusal("must be an octal mode from \"0000\" to \"0777\", such as \"0660\", got \"\(text)\""))
            }
            return .success(mode)
        }
    }

    /// A user name, or a uid as a number or numeric string.
    static var userID: Self {
        account("a user name such as \"www-data\", or a uid").then { account in
            switch account {
            case .id(let id): return .success(id)
            case .name(let name): return userNamed(name).map { .success($0) } ?? .failure(ConfigLoader.Refusal("no such user '\(name)'"))
            }
        }
    }

    /// A group name, or a gid as a number or numeric string.
    static var groupID: Self {
        account("a group name such as \"www-data\", or a gid").then { account in
            switch account {
            case .id(let id): return .success(id)
            case .name(let name): return groupNamed(name).map { .success($0) } ?? .failure(ConfigLoader.Refusal("no such group '\(name)'"))
            }
        }
    }

    private static func account(_ expected: String) -> ConfigLoader.Rule<Account> {
        ConfigLoader.Rule<Account>.kind(expected) { value in
            switch value {
            case .number(let number) where number.rounded() == number && number >= 0 && number < Double(UInt32.max):
                return .id(UInt32(number))
            case .string(let text) where !text.isEmpty:
                if text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let id = UInt32(text), id != UInt32.max { return .id(id) }
                return .name(text)
            default:
                return nil
            }
        }
    }

    /// getpwnam_r, with a buffer that grows while it is too small.
    private static func userNamed(_ name: String) -> UInt32? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        for size in [1024, 16 * 1024, 1024 * 1024] {
            var buffer = [CChar](repeating: 0, count: size)
            if getpwnam_r(name, &entry, &buffer, buffer.count, &result) != ERANGE { break }
        }
        return result == nil ? nil : entry.pw_uid
    }

    /// getgrnam_r, with a buffer that grows while it is too small (groups
    /// with many members need more).
    private static func groupNamed(_ name: String) -> UInt32? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        for size in [1024, 16 * 1024, 1024 * 1024] {
            var buffer = [CChar](repeating: 0, count: size)
            if getgrnam_r(name, &entry, &buffer, buffer.count, &result) != ERANGE { break }
        }
        return result == nil ? nil : entry.gr_gid
    }
}

/// A user or group as the config gives it.
enum Account {
    case id(UInt32)
    case name(String)
}
