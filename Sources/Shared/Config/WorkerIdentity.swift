/// Who a group's processes run as: `user` and `group` of the config,
/// resolved to numbers when the config is read (at start and at every
/// reload), because the child between fork and exec may not ask the user
/// database (not async-signal-safe); it only calls setgroups, setgid and
/// setuid with these.
///
/// supervisord's `user=`, systemd's `User=`/`Group=`, PM2's `uid`/`gid`.
public struct WorkerIdentity: Hashable, Sendable, Codable, CustomStringConvertible {
    /// `user` as the config wrote it: a name, or a uid in digits.
    public var user: String
    /// `group` as the config wrote it; nil: the user's primary group.
    public var group: String?
    public var uid: UInt32
    public var gid: UInt32
    /// The supplementary groups: those the group database lists the user
    /// in, with `gid` (what `initgroups` gives a login; getgrouplist). Just
    /// `gid` for a uid without an entry in the user database.
    public var groups: [UInt32]
    /// The name and home directory of the user's entry; nil for a uid the
    /// user database does not know.
    public var loginName: String?
    public var home: String?

    public init(
        user: String, group: String? = nil, uid: UInt32, gid: UInt32, groups: [UInt32], loginName: String? = nil, home: String? = nil
    ) {
        self.user = user
        self.group = group
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.loginName = loginName
        self.home = home
    }

    /// `USER`, `LOGNAME` and `HOME` as a login of the user would have them
    /// (systemd's `User=` sets them too), in place of appd's own: a program
    /// that writes below `$HOME` must not be pointed at root's. nil removes
    /// the variable (a uid without an entry has neither name nor home).
    public var loginEnvironment: [String: String?] {
        ["USER": loginName, "LOGNAME": loginName, "HOME": home]
    }

    /// `nobody (uid 65534), group nogroup (gid 65534)`; numbers written as
    /// numbers are not repeated: `uid 1001, gid 1001`.
    public var description: String {
        let user = self.user == String(uid) ? "uid \(uid)" : "\(self.user) (uid \(uid))"
        let group = self.group.map { $0 == String(gid) ? "gid \(gid)" : "group \($0) (gid \(gid))" } ?? "gid \(gid)"
        let others = groups.filter { $0 != gid }
        return "\(user), \(group)" + (others.isEmpty ? "" : ", supplementary groups \(others.map(String.init).joined(separator: " "))")
    }
}
