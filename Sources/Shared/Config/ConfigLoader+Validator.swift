extension ConfigLoader {
    /// Where a value sits in the config, printed as `groups[1].listen[0]`.
    struct FieldPath: CustomStringConvertible {
        let description: String

        static let root = FieldPath(description: "")

        func key(_ name: String) -> FieldPath {
            FieldPath(description: description.isEmpty ? name : "\(description).\(name)")
        }

        func index(_ position: Int) -> FieldPath {
            FieldPath(description: "\(description)[\(position)]")
        }
    }

    /// The fields of one JSON object, each with its path.
    struct Fields {
        let values: [String: Value]
        let path: FieldPath

        subscript(key: String) -> (value: Value, path: FieldPath)? {
            values[key].map { ($0, path.key(key)) }
        }
    }

    /// Walks a parsed config, collecting every problem rather than stopping at
    /// the first. Each reader returns what it could make of a value (nil when
    /// nothing); whatever it returns is only used when no problem was found.
    final class Validator {
        static let topLevelFields = ["controlSocket", "pidFile", "statusFile", "logFile", "log", "stopTimeout", "groups", "metrics", "cgroups"]
        static let groupFields = [
            "name", "command", "count", "reloadable", "listen", "readiness",
            "readyTimeout", "stopSignal", "stopTimeout", "env", "cwd", "reloadStrategy", "maxSurge",
            "watchdogSeconds", "outputBytesPerSecond", "restart", "successExitCodes", "maxRestarts", "restartWindow",
            "dependsOn", "autostart",
            "user", "group", "umask", "rlimits", "nice", "envFile",
            "maxMemory", "memoryMax", "cpuMax", "pidsMax", "log", "stderr", "history",
        ]

        let file: String
        /// The config file's directory, against which relative paths resolve.
        let directory: String
        private(set) var problems: [ConfigProblem] = []
        /// First place each group name was seen, to point duplicates at it.
        private var groupNames: [String: FieldPath] = [:]
        /// Where each group's `dependsOn` entries are, to point at a bad one.
        private var dependencyPaths: [String: [(name: String, path: FieldPath)]] = [:]
        /// First place each socket was seen, the control socket included: two
        /// groups cannot both bind one address.
        var sockets: [ListenAddress: FieldPath] = [:]
        /// The files the daemon writes (and the config itself), each with
        /// what it is, so that no two of them, and no Unix listen socket,
        /// share a path. The control socket is in `sockets`.
        var runtimeFiles: [String: String] = [:]

        init(file: String) {
            self.file = file
            self.directory = ConfigLoader.absolutePath("..", relativeTo: file)  // the file's parent
        }

        func daemonConfig(from root: Value) -> DaemonConfig? {
            guard let top = object(root, at: .root, known: Self.topLevelFields) else { return nil }
            let controlSocket = optional("controlSocket", in: top, .socketPath(relativeTo: directory))
                ?? RuntimePaths.defaultControlSocket
            sockets[.unix(path: controlSocket)] = FieldPath.root.key("controlSocket")
            let pidFile = optional("pidFile", in: top, .path(relativeTo: directory)) ?? RuntimePaths.defaultPidFile
            let statusFile = optional("statusFile", in: top, .path(relativeTo: directory)) ?? RuntimePaths.defaultStatusFile
            let daemonLog = top["logFile"].flatMap { readDaemonLog($0.value, at: $0.path) } ?? .standardError
            let stopTimeout = optional("stopTimeout", in: top, .seconds) ?? 2
            let cgroups = optional("cgroups", in: top, .boolean) ?? true
            checkRuntimeFiles(in: top, [
                ("controlSocket", "controlSocket", controlSocket),
                ("pidFile", "pidFile", pidFile),
                ("statusFile", "statusFile", statusFile),
                ("statusFile", "the connections snapshot (statusFile + '.connections')", statusFile + ".connections"),
                ("logFile", "logFile", daemonLog.isStandardError ? nil : daemonLog.path),
            ])
            for copy in daemonLog.rotatedPaths { runtimeFiles[copy] = "a rotated copy of logFile" }
            let groupLogDefaults = top["log"].flatMap { readGroupLogDefaults($0.value, at: $0.path) } ?? LogFileFields()
            let metrics = top["metrics"].flatMap { metricsSettings($0.value, at: $0.path) }
            guard let groupList = required("groups", in: top) else { return nil }
            let groups = elements(of: groupList.value, at: groupList.path, .array("an array of groups", allowsEmpty: false)) {
                group($0, at: $1, defaultStopTimeout: stopTimeout, logDefaults: groupLogDefaults)
            }
            checkDependencies()
            return DaemonConfig(
                sourcePath: file, controlSocket: controlSocket, pidFile: pidFile, statusFile: statusFile,
                daemonLog: daemonLog, stopTimeout: stopTimeout, groups: groups, metrics: metrics, cgroups: cgroups
            )
        }

        /// `metrics: {listen: "tcp://HOST:PORT"}`: written as a group's
        /// listen address is, but TCP only (scrapers and probes speak HTTP
        /// over TCP), and claimed like one, so no group can bind it too.
        private func metricsSettings(_ value: Value, at path: FieldPath) -> MetricsSettings? {
            guard let fields = object(value, at: path, known: ["listen"]),
                  let address = required("listen", in: fields, .listenAddress(relativeTo: directory)),
                  let listenPath = fields["listen"]?.path else { return nil }
            guard case .tcp = address else {
                report(listenPath, "must be a tcp://HOST:PORT address (scrapers and probes speak HTTP over TCP), got '\(address)'")
                return nil
            }
            claim(address, at: listenPath, in: &sockets) { "'\(address)' is already used at \($0)" }
            return MetricsSettings(listen: address)
        }

        private func group(_ value: Value, at path: FieldPath, defaultStopTimeout: Double, logDefaults: LogFileFields) -> GroupConfig? {
            guard let group = object(value, at: path, known: Self.groupFields) else { return nil }
            let name = required("name", in: group, .groupName)
            if let name, let namePath = group["name"]?.path {
                claim(name, at: namePath, in: &groupNames) { "duplicate group name '\(name)', first used at \($0)" }
            }
            let command = required("command", in: group).map { field in
                elements(of: field.value, at: field.path, .array("an array of strings (argv, no shell)", allowsEmpty: false)) {
                    check($0, at: $1, .nonEmptyString)
                }
            }
            let count = optional("count", in: group, .integer.atLeast(0).atMost(GroupConfig.maximumCount))
            let reloadable = optional("reloadable", in: group, .boolean)
            var socketPermissions: [ListenAddress: UnixSocketPermissions] = [:]
            let listen = group["listen"].map { field in
                elements(of: field.value, at: field.path, .array("an array of addresses")) { item, itemPath in
                    let address: ListenAddress?
                    if case .object = item {
                        address = listenObject(item, at: itemPath, permissions: &socketPermissions)
                    } else {
                        address = check(item, at: itemPath, .listenAddress(relativeTo: directory))
                    }
                    if let address {
                        claim(address, at: itemPath, in: &sockets) { "'\(address)' is already used at \($0)" }
                        if case .unix(let path) = address, let other = runtimeFiles[path] {
                            report(itemPath, "'\(address)' is also \(other); every runtime file needs a path of its own")
                        }
                    }
                    return address
                }
            }
            let readiness = group["readiness"].flatMap { readReadiness($0.value, at: $0.path) }
            let readyTimeout = optional("readyTimeout", in: group, .seconds)
            let stopSignal = optional("stopSignal", in: group, .signal)
            let stopTimeout = optional("stopTimeout", in: group, .seconds)
            let env = group["env"].map { readEnvironment($0.value, at: $0.path) }
            let cwd = optional("cwd", in: group, .directory(relativeTo: directory))
            let reloadStrategy = optional("reloadStrategy", in: group, .oneOf(ReloadStrategy.self))
            let maxSurge = optional("maxSurge", in: group, .integer.atLeast(1).atMost(GroupConfig.maximumCount))
            let watchdogSeconds = optional("watchdogSeconds", in: group, .seconds)
            let outputBytesPerSecond = optional("outputBytesPerSecond", in: group, .integer.atLeast(0).atMost(1 << 40))
            let history = group["history"].flatMap { readHistory($0.value, at: $0.path) }
            let limits = cgroupLimits(in: group)
            let restart = optional("restart", in: group, .oneOf(RestartPolicy.self))
            let successExitCodes = group["successExitCodes"].map { field in
                elements(of: field.value, at: field.path, .array("an array of exit codes")) {
                    check($0, at: $1, .integer.atLeast(0).atMost(255))
                }
            }
            let maxRestarts = optional("maxRestarts", in: group, .integer.atLeast(0).atMost(1_000_000))
            let restartWindow = optional("restartWindow", in: group, .seconds)
            let dependsOn = group["dependsOn"].map { field in
                elements(of: field.value, at: field.path, .array("an array of group names")) { item, itemPath in
                    check(item, at: itemPath, .groupName).map { ($0, itemPath) }
                }
            }
            let autostart = optional("autostart", in: group, .boolean)
            if let name, let dependsOn { dependencyPaths[name] = dependsOn }
            let identity = readIdentity(in: group)
            let umask = optional("umask", in: group, .octalMode(example: "0027"))
            let resourceLimits = group["rlimits"].map { readResourceLimits($0.value, at: $0.path) }
            let nice = optional("nice", in: group, .integer.atLeast(-20).atMost(19))
            let envFiles = group["envFile"].map { readEnvironmentFiles($0.value, at: $0.path) }
            guard let name, let command else { return nil }
            let (log, stderrLog) = groupLogs(group, name: name, defaults: logDefaults)
            var config = GroupConfig(
                name: name, command: command, count: count ?? 1, reloadable: reloadable ?? true,
                listen: listen ?? [], readiness: readiness ?? .standard, readyTimeout: readyTimeout ?? 30,
                stopSignal: stopSignal ?? .terminate, stopTimeout: stopTimeout ?? defaultStopTimeout,
                env: env ?? [:], cwd: cwd ?? directory, reloadStrategy: reloadStrategy ?? .startFirst,
                maxSurge: maxSurge ?? 1, watchdogSeconds: watchdogSeconds,
                outputBytesPerSecond: outputBytesPerSecond ?? GroupConfig.defaultOutputBytesPerSecond
            )
            config.socketPermissions = socketPermissions
            config.log = log
            config.stderrLog = stderrLog
            config.history = history ?? .standard
            config.restart = restart ?? .always
            config.successExitCodes = Set((successExitCodes ?? [0]).map(Int32.init))
            config.maxRestarts = maxRestarts ?? GroupConfig.defaultMaxRestarts
            config.restartWindow = restartWindow ?? GroupConfig.defaultRestartWindow
            config.dependsOn = (dependsOn ?? []).map(\.0)
            config.autostart = autostart ?? true
            config.identity = identity
            config.umask = umask
            config.resourceLimits = resourceLimits ?? [:]
            config.nice = nice
            config.envFiles = envFiles ?? []
            config.limits = limits
            return config
        }

        /// A `listen` entry written as an object: `{address: "unix:PATH",
        /// mode: "0660", owner: "app", group: "www-data"}` (see
        /// `UnixSocketPermissions`); the permissions go to `permissions`.
        private func listenObject(
            _ value: Value, at path: FieldPath, permissions: inout [ListenAddress: UnixSocketPermissions]
        ) -> ListenAddress? {
            guard let fields = object(value, at: path, known: ["address", "mode", "owner", "group"]) else { return nil }
            let address = required("address", in: fields, .listenAddress(relativeTo: directory))
            let given = UnixSocketPermissions(
                mode: optional("mode", in: fields, .octalMode(example: "0660")), owner: optional("owner", in: fields, .userID),
                group: optional("group", in: fields, .groupID))
            guard let address else { return nil }
            if case .tcp = address {
                for key in ["mode", "owner", "group"] where fields[key] != nil {
                    report(path.key(key), "applies only to unix: addresses, not to '\(address)'")
                }
                return address
            }
            if !given.isEmpty { permissions[address] = given }
            return address
        }

        /// Two runtime files on one path would overwrite each other, and one
        /// on the config file would destroy it: each `(field, what, path)`
        /// is checked against the config file and the ones before it. The
        /// problem goes to the field the file sets; when that field was left
        /// at its default, to the earlier field that chose the same path.
        /// A field with a problem of its own (nil path, or a value refused)
        /// is not compared.
        private func checkRuntimeFiles(in top: Fields, _ files: [(field: String, what: String, path: String?)]) {
            var claimed: [String: (what: String, field: String?)] = [file: ("the config file", nil)]
            for (field, what, path) in files {
                guard let path, !problems.contains(where: { $0.fieldPath == field }) else { continue }
                let isSet = top[field] != nil
                if let first = claimed[path] {
                    if isSet {
                        report(.root.key(field), "'\(path)' is also \(first.what); every runtime file needs a path of its own")
                    } else if let firstField = first.field {
                        report(.root.key(firstField), "'\(path)' is also the default \(what); every runtime file needs a path of its own")
                    }
                } else {
                    claimed[path] = (what, isSet ? field : nil)
                }
            }
            for (path, entry) in claimed where entry.what != "controlSocket" {
                runtimeFiles[path] = entry.what
            }
        }

        private func readReadiness(_ value: Value, at path: FieldPath) -> Readiness? {
            switch value {
            case .string("notify"):
                return .notify
            case .string("none"):
                return Readiness.none
            case .object:
                guard let fields = object(value, at: path, known: ["afterSeconds"]) else { return nil }
                return required("afterSeconds", in: fields, .number.atLeast(0).atMost(GroupConfig.maximumSeconds))
                    .map(Readiness.afterSeconds)
            default:
                report(path, "must be \"notify\", \"none\" or {afterSeconds: N}, got \(value.kindAndValue)")
                return nil
            }
        }

        private func readEnvironment(_ value: Value, at path: FieldPath) -> [String: String] {
            guard let variables = check(value, at: path, .object("an object of strings")) else { return [:] }
            var environment: [String: String] = [:]
            for (name, value) in variables.sorted(by: { $0.key < $1.key }) {
                if name.isEmpty || name.contains("=") || name.contains("\0") {
                    report(path.key(name), "is not a valid environment variable name")
                } else {
                    environment[name] = check(value, at: path.key(name), .environmentValue)
                }
            }
            return environment
        }

        // MARK: Readers shared by every field (and by the log settings, `ConfigLoader+LogSettings`)

        /// Each `dependsOn` entry names another group, and no group depends
        /// on itself through others: a cycle could never start.
        private func checkDependencies() {
            for (group, entries) in dependencyPaths {
                for (name, path) in entries {
                    if name == group {
                        report(path, "a group cannot depend on itself")
                    } else if groupNames[name] == nil {
                        report(path, "no group named '\(name)'" + (Suggestion.closest(to: name, among: Array(groupNames.keys)).map { " (did you mean '\($0)'?)" } ?? ""))
                    }
                }
            }
            let edges = dependencyPaths.mapValues { $0.map(\.name) }
            var reported: Set<String> = []
            for start in edges.keys.sorted() {
                guard let cycle = Self.cycle(from: start, edges: edges), !reported.contains(cycle.sorted().joined(separator: ",")) else { continue }
                reported.insert(cycle.sorted().joined(separator: ","))
                let at = dependencyPaths[start]?.first?.path ?? .root
                report(at, "dependsOn makes a cycle: " + (cycle + [cycle[0]]).joined(separator: " → ") + "; none of them could start")
            }
        }

        /// The groups of a dependency cycle through `start`, in order, if any.
        static func cycle(from start: String, edges: [String: [String]]) -> [String]? {
            var path: [String] = []
            func visit(_ node: String) -> [String]? {
                if let index = path.firstIndex(of: node) { return node == start ? Array(path[index...]) : nil }
                path.append(node)
                defer { path.removeLast() }
                for next in edges[node] ?? [] where next != node {
                    if let found = visit(next) { return found }
                }
                return nil
            }
            return visit(start)
        }

        func report(_ path: FieldPath, _ message: String) {
            problems.append(ConfigProblem(file: file, fieldPath: path.description, message: message))
        }

        /// Applies `rule`, reporting a refusal at `path`.
        func check<T>(_ value: Value, at path: FieldPath, _ rule: Rule<T>) -> T? {
            switch rule.apply(value) {
            case .success(let output):
                return output
            case .failure(let refusal):
                report(path, refusal.message)
                return nil
            }
        }

        /// An object's fields; keys outside `known` are reported, with the
        /// nearest known key when it looks like a typo.
        func object(_ value: Value, at path: FieldPath, known: [String]) -> Fields? {
            guard let values = check(value, at: path, .object("an object")) else { return nil }
            for key in values.keys.sorted() where !known.contains(key) {
                let suggestion = Self.nearest(to: key, among: known).map { "; did you mean '\($0)'?" } ?? ""
                report(path.key(key), "unknown field '\(key)'\(suggestion)")
            }
            return Fields(values: values, path: path)
        }

        func optional<T>(_ key: String, in fields: Fields, _ rule: Rule<T>) -> T? {
            fields[key].flatMap { check($0.value, at: $0.path, rule) }
        }

        func required(_ key: String, in fields: Fields) -> (value: Value, path: FieldPath)? {
            guard let field = fields[key] else {
                report(fields.path.key(key), "is required")
                return nil
            }
            return field
        }

        func required<T>(_ key: String, in fields: Fields, _ rule: Rule<T>) -> T? {
            required(key, in: fields).flatMap { check($0.value, at: $0.path, rule) }
        }

        /// Reads an array with `arrayRule`, then each element with `element`
        /// at its own index, keeping the elements that could be read.
        func elements<T>(
            of value: Value, at path: FieldPath, _ arrayRule: Rule<[Value]>, _ element: (Value, FieldPath) -> T?
        ) -> [T] {
            let items = check(value, at: path, arrayRule) ?? []
            return items.enumerated().compactMap { element($1, path.index($0)) }
        }

        /// Records where `key` was first seen; a second sighting is reported
        /// at its own path, with `message` given the first one's.
        private func claim<Key: Hashable>(
            _ key: Key, at path: FieldPath, in seen: inout [Key: FieldPath], _ message: (FieldPath) -> String
        ) {
            if let first = seen[key] {
                report(path, message(first))
            } else {
                seen[key] = path
            }
        }

        /// The known key within edit distance 2 of `key` (ignoring case), for
        /// "did you mean" hints; shorter keys get a tighter bound so that
        /// any two-letter word does not match everything.
        static func nearest(to key: String, among known: [String]) -> String? {
            let bound = min(2, key.count / 2)
            return known
                .map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
                .filter { $0.1 <= bound }
                .min { $0.1 < $1.1 }?.0
        }

        /// Levenshtein distance: insertions, deletions and substitutions.
        static func editDistance(_ a: String, _ b: String) -> Int {
            let b = Array(b)
            var previous = Array(0...b.count)
            for (i, characterOfA) in a.enumerated() {
                var current = [i + 1]
                for (j, characterOfB) in b.enumerated() {
                    let substitution = previous[j] + (characterOfA == characterOfB ? 0 : 1)
                    current.append(min(previous[j + 1] + 1, current[j] + 1, substitution))
                }
                previous = current
            }
            return previous[b.count]
        }
    }
}
