#if canImport(Glibc)
import Glibc
#endif

/// The system's users and groups (/etc/passwd, /etc/group, or whatever NSS
/// serves), asked when a config is read: `user` and `group` of a group,
/// `owner` and `group` of a unix listen socket.
///
/// Only ever asked in the master's own context, never in a forked child:
/// getpwnam_r and friends may take locks and load NSS modules, which is not
/// async-signal-safe. The child gets the numbers.
enum AccountDatabase {
    /// A user's entry: what a worker started as that user needs.
    struct User: Equatable {
        var name: String
        var uid: UInt32
        /// The primary group, the default of a group's `group`.
        var gid: UInt32
        var home: String
    }

    static func user(named name: String) -> User? {
        lookUpUser { entry, buffer, size, result in getpwnam_r(name, &entry, buffer, size, &result) }
    }

    static func user(id: UInt32) -> User? {
        lookUpUser { entry, buffer, size, result in getpwuid_r(id, &entry, buffer, size, &result) }
    }

    static func groupID(named name: String) -> UInt32? {
        for size in bufferSizes {
            var entry = group()
            var result: UnsafeMutablePointer<group>?
            var buffer = [CChar](repeating: 0, count: size)
            if getgrnam_r(name, &entry, &buffer, buffer.count, &result) == ERANGE { continue }
            return result == nil ? nil : entry.gr_gid
        }
        return nil
    }

    /// The groups `user` belongs to by the group database, with `primary`
    /// first: what `initgroups` would give a login of that user (getgrouplist).
    static func groupList(of user: String, primary: UInt32) -> [UInt32] {
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let previous = count
            if getgrouplist(user, primary, &groups, &count) >= 0 {
                return Array(groups.prefix(Int(count)))
            }
            // -1 with count set to what is needed; never loop on a count that does not grow.
            if count <= previous { count = previous * 2 }
        }
    }

    /// The `*_r` calls fail with ERANGE when the buffer is too small for
    /// the entry's strings (groups with many members need more than 1 KiB).
    private static let bufferSizes = [1024, 16 * 1024, 1024 * 1024]

    /// Runs a getpw*_r lookup with a buffer that grows while it is too
    /// small; the entry's strings point into the buffer, so they are copied
    /// out before it is freed.
    private static func lookUpUser(
        _ call: (inout passwd, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> User? {
        for size in bufferSizes {
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            if call(&entry, buffer, size, &result) == ERANGE { continue }
            guard result != nil, let name = entry.pw_name else { return nil }
            return User(name: String(cString: name), uid: entry.pw_uid, gid: entry.pw_gid,
                        home: entry.pw_dir.map { String(cString: $0) } ?? "/")
        }
        return nil
    }
}
