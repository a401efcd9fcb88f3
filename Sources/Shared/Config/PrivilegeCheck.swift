#if canImport(Glibc)
import Glibc
#endif

extension ConfigLoader {
    /// What the process that spawns the workers may give them, which the
    /// settings of a group may need more of: only root may start a process
    /// as another user or group, raise a hard limit above its own, or give
    /// a better (lower) nice value than its own (beyond what RLIMIT_NICE
    /// allows).
    public struct Privileges: Sendable {
        public var uid: UInt32
        public var gid: UInt32
        /// appd's own hard limit of each resource.
        public var hardLimits: [ResourceLimitName: UInt64]
        /// The lowest nice value appd may give a child: its own, or lower as
        /// far as RLIMIT_NICE lets it (20 - the soft limit).
        public var lowestNice: Int

        public init(uid: UInt32, gid: UInt32, hardLimits: [ResourceLimitName: UInt64], lowestNice: Int) {
            self.uid = uid
            self.gid = gid
            self.hardLimits = hardLimits
            self.lowestNice = lowestNice
        }

        public var isRoot: Bool { uid == 0 }

        /// This process's.
        public static var current: Privileges {
            var hardLimits: [ResourceLimitName: UInt64] = [:]
            var niceLimit: UInt64 = 0
            for name in ResourceLimitName.allCases {
                var limit = rlimit()
                guard getrlimit(__rlimit_resource_t(UInt32(name.resource)), &limit) == 0 else { continue }
                hardLimits[name] = UInt64(limit.rlim_max)
                if name == .nice { niceLimit = UInt64(limit.rlim_cur) }
            }
            let own = Int(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
            let byLimit = 20 - Int(min(niceLimit, 40))
            return Privileges(uid: geteuid(), gid: getegid(), hardLimits: hardLimits, lowestNice: min(own, byLimit))
        }
    }

    /// The settings appd could not carry out with `privileges`, one problem
    /// each with its field path: `groups[0].user: group web: user 'www'
    /// needs appd to run as root (it runs as uid 1000)`.
    ///
    /// Asked by `appd --check`, at start and at every reload (a config that
    /// can never work under this appd is refused rather than failing every
    /// spawn), but not by `appctl`, which reads the same config as whoever
    /// runs it. A group whose `user` and `group` are appd's own needs nothing.
    public static func privilegeProblems(in config: DaemonConfig, as privileges: Privileges = .current) -> [ConfigProblem] {
        guard !privileges.isRoot else { return [] }
        let file = config.sourcePath ?? "embedded demo config"
        let needsRoot = "needs appd to run as root (it runs as uid \(privileges.uid))"
        var problems: [ConfigProblem] = []
        for (position, group) in config.groups.enumerated() {
            func report(_ field: String, _ message: String) {
                problems.append(ConfigProblem(file: file, fieldPath: "groups[\(position)].\(field)", message: "group \(group.name): \(message)"))
            }
            if let identity = group.identity {
                if identity.uid != privileges.uid {
                    report("user", "user '\(identity.user)' \(needsRoot)")
                } else if identity.gid != privileges.gid {
                    let group = identity.group.map { "group '\($0)'" }
                        ?? "the primary group of user '\(identity.user)' (gid \(identity.gid))"
                    report(identity.group == nil ? "user" : "group", "\(group) \(needsRoot)")
                }
            }
            for (name, limit) in group.resourceLimits.sorted(by: { $0.key < $1.key }) {
                guard let own = privileges.hardLimits[name], limit.hard > own else { continue }
                report("rlimits.\(name.rawValue)",
                       "a hard limit of \(ResourceLimit.text(limit.hard)) is above appd's own (\(ResourceLimit.text(own))): raising it \(needsRoot)")
            }
            if let nice = group.nice, nice < privileges.lowestNice {
                report("nice", "nice \(nice) is below the lowest appd may give (\(privileges.lowestNice)): it \(needsRoot)")
            }
        }
        return problems
    }
}
