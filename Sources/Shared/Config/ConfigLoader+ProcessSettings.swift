/// The settings of what a group's processes are started as, beyond their
/// command: `user`/`group` (resolved to numbers here, see
/// `WorkerIdentity`), `rlimits` and `envFile` (read here, see
/// `EnvironmentFile`). `umask` and `nice` are plain rules in the group's
/// reader.
extension ConfigLoader.Validator {
    /// `user` and `group`, looked up now: a name that does not exist is a
    /// problem of the config, found by `appd --check` and refusing a reload,
    /// not a failure of every spawn. `group` alone is refused: the
    /// supplementary groups come from the user's entry.
    func readIdentity(in fields: ConfigLoader.Fields) -> WorkerIdentity? {
        guard let userField = fields["user"] else {
            if let groupField = fields["group"] {
                report(groupField.path, "needs `user` as well: the supplementary groups come from the user's entry "
                    + "(for appd's own user, name it)")
            }
            return nil
        }
        let user = check(userField.value, at: userField.path, .user)
        var group: ResolvedGroup?
        if let groupField = fields["group"] {
            group = check(groupField.value, at: groupField.path, .group)
            if group == nil { return nil }
        }
        guard let user else { return nil }
        let gid: UInt32
        if let group {
            gid = group.gid
        } else if let entry = user.entry {
            gid = entry.gid
        } else {
            report(userField.path, "uid \(user.uid) has no entry in the user database, so no primary group: give `group` too")
            return nil
        }
        return WorkerIdentity(
            user: user.written, group: group?.written, uid: user.uid, gid: gid,
            groups: user.entry.map { AccountDatabase.groupList(of: $0.name, primary: gid) } ?? [gid],
            loginName: user.entry?.name, home: user.entry?.home)
    }

    /// `rlimits: {nofile: 65536, core: "infinity", stack: {soft: 8388608, hard: "infinity"}}`.
    func readResourceLimits(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> [ResourceLimitName: ResourceLimit] {
        guard let fields = object(value, at: path, known: ResourceLimitName.allCases.map(\.rawValue)) else { return [:] }
        var limits: [ResourceLimitName: ResourceLimit] = [:]
        for name in ResourceLimitName.allCases {
            guard let field = fields[name.rawValue] else { continue }
            limits[name] = resourceLimit(field.value, at: field.path)
        }
        return limits
    }

    /// A number (soft and hard alike), `"infinity"`, or `{soft, hard}`.
    private func resourceLimit(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> ResourceLimit? {
        guard case .object = value else {
            return check(value, at: path, .limitValue).map { ResourceLimit(soft: $0, hard: $0) }
        }
        guard let fields = object(value, at: path, known: ["soft", "hard"]) else { return nil }
        let soft = required("soft", in: fields, .limitValue)
        let hard = required("hard", in: fields, .limitValue)
        guard let soft, let hard else { return nil }
        guard soft <= hard else {
            report(path, "the soft limit (\(ResourceLimit.text(soft))) must not be above the hard one (\(ResourceLimit.text(hard)))")
            return nil
        }
        return ResourceLimit(soft: soft, hard: hard)
    }

    /// `envFile: "/etc/app.env"` or a list of them, each read now.
    func readEnvironmentFiles(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> [EnvironmentFile] {
        switch value {
        case .string:
            return environmentFile(value, at: path).map { [$0] } ?? []
        case .array:
            return elements(of: value, at: path, .array("an array of paths")) { environmentFile($0, at: $1) }
        default:
            report(path, "must be a path or an array of paths, got \(value.kindAndValue)")
            return []
        }
    }

    /// One file, with a leading `-` optional (systemd's `EnvironmentFile=-/path`).
    /// Every problem names the file and its line: `groups[0].envFile:
    /// /srv/app/.env:3: expected KEY=VALUE, got "PORT"`.
    private func environmentFile(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> EnvironmentFile? {
        guard let written = check(value, at: path, .nonEmptyString) else { return nil }
        let isOptional = written.hasPrefix("-")
        let name = isOptional ? String(written.dropFirst()) : written
        guard !name.isEmpty else {
            report(path, "needs a path after '-'")
            return nil
        }
        let file = ConfigLoader.absolutePath(name, relativeTo: directory)
        switch ConfigFileSystem.contents(of: file, limit: EnvironmentFile.maximumBytes + 1) {
        case .failure(let failure):
            if isOptional && failure.isMissing {
                return EnvironmentFile(path: file, isOptional: true, exists: false, variables: [:])
            }
            report(path, "cannot read \(file): \(failure.reason)")
        case .success(let bytes) where bytes.count > EnvironmentFile.maximumBytes:
            report(path, "\(file) is larger than \(EnvironmentFile.maximumBytes / (1 << 20)) MiB")
        case .success(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                report(path, "\(file) is not UTF-8 text")
                return nil
            }
            let (variables, problems) = EnvironmentFile.parse(text)
            for problem in problems { report(path, "\(file):\(problem.line): \(problem.message)") }
            if problems.isEmpty { return EnvironmentFile(path: file, isOptional: isOptional, variables: variables) }
        }
        return nil
    }
}

extension ConfigLoader.Rule where Output == UInt64 {
    /// A limit: a whole number of the resource's unit, or `"infinity"`.
    static var limitValue: Self {
        kind("a whole number or \"infinity\"") { value in
            switch value {
            case .string("infinity"):
                return ResourceLimit.infinity
            case .number(let number) where number >= 0 && number.rounded() == number && number <= 9_007_199_254_740_992:
                return UInt64(number)
            default:
                return nil
            }
        }
    }
}
