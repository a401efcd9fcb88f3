/// A `describe` item: one group's settings as they are in force, how they
/// differ from what the config file says now, and how its last reload ended.
///
/// The daemon fills in both sides: it knows which file it loaded and reads
/// it the way a reload would (same parser, same paths relative to the
/// file), so the differences are exactly what `appctl reload` would apply,
/// wherever appctl runs and whatever file it could or could not read.
public struct GroupDescription: Hashable, Sendable, Codable {
    public var name: String
    /// The settings the group's processes are started with now.
    public var config: GroupSettings
    /// The file the daemon loaded its config from; nil for the embedded demo.
    public var configFile: String?
    /// How the group's entry in `configFile`, read now, differs from
    /// `config`: empty when it does not; nil when there is nothing to
    /// compare (`fileProblem` says why).
    public var differences: [SettingDifference]?
    /// Why nothing could be compared: no file, a file that does not load,
    /// a group the file no longer has.
    public var fileProblem: String?
    /// How the group's last reload ended; nil when it was never reloaded.
    public var lastReload: LastReload?

    public init(
        name: String, config: GroupSettings, configFile: String?, differences: [SettingDifference]?,
        fileProblem: String? = nil, lastReload: LastReload? = nil
    ) {
        self.name = name
        self.config = config
        self.configFile = configFile
        self.differences = differences
        self.fileProblem = fileProblem
        self.lastReload = lastReload
    }

    private enum CodingKeys: String, CodingKey { case name, config, configFile, differences, fileProblem, lastReload }

    /// `configFile`, `differences` and `lastReload` are always present
    /// (null when there is none), like `status`'s `pid`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(config, forKey: .config)
        try container.encode(configFile, forKey: .configFile)
        try container.encode(differences, forKey: .differences)
        try container.encodeIfPresent(fileProblem, forKey: .fileProblem)
        try container.encode(lastReload, forKey: .lastReload)
    }

    /// One setting that differs between the running group and the file,
    /// both sides as text: `count: 2 → 4`.
    public struct SettingDifference: Hashable, Sendable, Codable {
        /// The config's name for it: `count`, `command`, `env.MODE`.
        public var field: String
        /// nil: not set on that side (an env key added or removed, no watchdog).
        public var running: String?
        public var file: String?

        public init(field: String, running: String?, file: String?) {
            self.field = field
            self.running = running
            self.file = file
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(field, forKey: .field)
            try container.encode(running, forKey: .running)
            try container.encode(file, forKey: .file)
        }

        private enum CodingKeys: String, CodingKey { case field, running, file }
    }

    /// How a reload of the group ended.
    public struct LastReload: Hashable, Sendable, Codable {
        /// When it ended, Unix seconds.
        public var at: Double
        public var outcome: GroupReloaded.Outcome
        public var replaced: Int
        /// Slots that were not running and were started.
        public var started: Int?
        /// For `signalled`: the processes sent SIGUSR1.
        public var signalled: Int?
        /// For `aborted`: why.
        public var reason: String?
        public var notes: [String]?

        public init(
            at: Double, outcome: GroupReloaded.Outcome, replaced: Int, started: Int? = nil, signalled: Int? = nil,
            reason: String? = nil, notes: [String]? = nil
        ) {
            self.at = at
            self.outcome = outcome
            self.replaced = replaced
            self.started = started
            self.signalled = signalled
            self.reason = reason
            self.notes = notes
        }
    }
}

/// A group's settings as the config spells them, for `describe`.
/// Environment values whose names look secret are masked.
public struct GroupSettings: Hashable, Sendable, Codable {
    public var command: [String]
    public var count: Int
    public var reloadable: Bool
    public var listen: [String]
    /// `"notify"`, `"none"`, or `{"afterSeconds": N}`, as in the config.
    public var readiness: JSONValue
    public var readyTimeout: Double
    public var reloadStrategy: String
    public var maxSurge: Int
    /// `"TERM"`.
    public var stopSignal: String
    public var stopTimeout: Double
    public var watchdogSeconds: Double?
    /// Values of keys containing KEY, SECRET, TOKEN, PASSWORD or PASSWD
    /// are replaced by `GroupSettings.mask`.
    public var env: [String: String]
    public var cwd: String
    /// `"always"`, `"on-failure"` or `"never"`, and the limit on restarts
    /// after failures. Optional: older daemons leave them out.
    public var restart: String?
    public var successExitCodes: [Int32]?
    public var maxRestarts: Int?
    public var restartWindow: Double?
    /// Who the processes run as; nil: appd's own user.
    public var identity: WorkerIdentity?
    /// `"0027"`; nil: appd's own umask.
    public var umask: String?
    /// Each limit as `65536`, `1024/4096` (soft/hard) or `infinity`; nil: none set.
    public var rlimits: [String: String]?
    public var nice: Int?
    /// The `envFile`s, with the names of what they set (their values are
    /// never shown: such files are where secrets live); nil: none.
    public var envFile: [EnvironmentFileSettings]?
    /// Where output goes, as the config spells it: `log` nil is the daemon's
    /// log, `stderr` nil is with stdout. The history `appctl logs` reads,
    /// and the cap on each process's output (0: none). Optional, like every
    /// field below: older daemons leave them out.
    public var log: LogFileSettings?
    public var stderr: LogFileSettings?
    public var history: HistorySettings?
    public var outputBytesPerSecond: Int?
    /// Bytes; `cpuMax` as cgroup's `cpu.max` writes it, `50000/100000`.
    public var maxMemory: UInt64?
    public var memoryMax: UInt64?
    public var cpuMax: String?
    public var pidsMax: Int?
    public var dependsOn: [String]?
    public var autostart: Bool?

    /// One log file for `describe`, with the config's names.
    public struct LogFileSettings: Hashable, Sendable, Codable {
        public var file: String
        /// 0: appd never rotates it.
        public var maxBytes: Int
        public var keep: Int
        public var format: String

        init(_ config: LogFileConfig) {
            file = config.path
            maxBytes = config.maxBytes
            keep = config.keep
            format = config.format.rawValue
        }

        /// `/srv/logs/web.log: rotated at 10 MiB, 5 kept, text`.
        public var text: String {
            let rotation = maxBytes > 0 && keep > 0
                ? "rotated at \(HumanFormat.bytes(UInt64(maxBytes))), \(keep) kept"
                : "not rotated by appd (appctl logs --reopen after an external rotation)"
            return "\(file): \(rotation), \(format)"
        }
    }

    /// A group's in-memory history for `describe`.
    public struct HistorySettings: Hashable, Sendable, Codable {
        public var lines: Int
        public var bytes: Int

        /// `the last 2000 lines, at most 1 MiB`.
        public var text: String { "the last \(counted(lines, "line", "lines")), at most \(HumanFormat.bytes(UInt64(bytes)))" }
    }

    /// One `envFile` for `describe`.
    public struct EnvironmentFileSettings: Hashable, Sendable, Codable {
        public var path: String
        public var optional: Bool
        /// False for an optional file that did not exist when the config was read.
        public var exists: Bool
        /// The names it sets, sorted.
        public var variables: [String]

        init(_ file: EnvironmentFile) {
            path = file.path
            optional = file.isOptional
            exists = file.exists
            variables = file.variables.keys.sorted()
        }
    }

    /// What a secret value is shown as.
    public static let mask = "********"

    /// Whether an environment variable's value is kept out of `describe`:
    /// its name contains KEY, SECRET, TOKEN, PASSWORD or PASSWD, in any case.
    public static func isSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD"].contains { upper.contains($0) }
    }

    public init(_ config: GroupConfig) {
        command = config.command
        count = config.count
        reloadable = config.reloadable
        listen = config.listen.map(\.description)
        readiness = Self.readiness(config.readiness)
        readyTimeout = config.readyTimeout
        reloadStrategy = config.reloadStrategy.rawValue
        maxSurge = config.maxSurge
        stopSignal = config.stopSignal.name
        stopTimeout = config.stopTimeout
        watchdogSeconds = config.watchdogSeconds
        env = Dictionary(uniqueKeysWithValues: config.env.map { ($0.key, Self.isSecret($0.key) ? Self.mask : $0.value) })
        cwd = config.cwd
        restart = config.restart.rawValue
        successExitCodes = config.successExitCodes.sorted()
        maxRestarts = config.maxRestarts
        restartWindow = config.restartWindow
        identity = config.identity
        umask = config.umask.map(Self.octal)
        rlimits = config.resourceLimits.isEmpty ? nil
            : Dictionary(uniqueKeysWithValues: config.resourceLimits.map { ($0.key.rawValue, $0.value.description) })
        nice = config.nice
        envFile = config.envFiles.isEmpty ? nil : config.envFiles.map(EnvironmentFileSettings.init)
        log = config.log.map(LogFileSettings.init)
        stderr = config.stderrLog.map(LogFileSettings.init)
        history = HistorySettings(lines: config.history.lines, bytes: config.history.bytes)
        outputBytesPerSecond = config.outputBytesPerSecond
        maxMemory = config.limits.maxMemory
        memoryMax = config.limits.memoryMax
        cpuMax = config.limits.cpuMax?.description
        pidsMax = config.limits.pidsMax
        dependsOn = config.dependsOn
        autostart = config.autostart
    }

    /// Each line of output's way: `log`, `stderr` and the cap, as text.
    public var outputText: [String] {
        let stdout = log.map { $0.text } ?? "the daemon's log"
        var lines = [(stderr == nil ? "stdout and stderr → " : "stdout → ") + stdout]
        if let stderr { lines.append("stderr → " + stderr.text) }
        if let outputBytesPerSecond {
            lines.append(outputBytesPerSecond == 0 ? "no cap on a process's output"
                : "at most \(HumanFormat.bytes(UInt64(outputBytesPerSecond)))/s of output per process, the rest dropped and counted")
        }
        return lines
    }

    /// `maxMemory 512 MiB`, … one per limit set; empty: none.
    public var limitsText: [String] {
        [maxMemory.map { "maxMemory \(HumanFormat.bytes($0)) (appd restarts the worker above it)" },
         memoryMax.map { "memoryMax \(HumanFormat.bytes($0)) (cgroup memory.max)" },
         cpuMax.map { "cpuMax \($0) (cgroup cpu.max)" },
         pidsMax.map { "pidsMax \($0) (cgroup pids.max)" }].compactMap { $0 }
    }

    /// `after db, cache`; `at daemon start`; `only by appctl start`.
    public var startText: String? {
        guard let autostart else { return nil }
        let after = dependsOn.flatMap { $0.isEmpty ? nil : ", after " + $0.joined(separator: ", ") + " are ready" } ?? ""
        return (autostart ? "at daemon start" : "only by `appctl start` (autostart false)") + after
    }

    /// `always; at most 10 restarts after failures in 1m00s; success: exit 0`.
    public var restartText: String? {
        guard let restart else { return nil }
        var parts = [restart]
        if restart != RestartPolicy.never.rawValue, let maxRestarts, let restartWindow {
            parts.append("at most \(counted(maxRestarts, "restart", "restarts")) after failures in \(HumanFormat.duration(seconds: restartWindow))")
        }
        if let codes = successExitCodes { parts.append("success: exit " + codes.map(String.init).joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }

    /// `0027`: a mode as `chmod` and `umask` write it.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func readiness(_ readiness: Readiness) -> JSONValue {
        switch readiness {
        case .none: return "none"
        case .notify: return "notify"
        case .afterSeconds(let seconds): return ["afterSeconds": .number(seconds)]
        }
    }

    /// Every setting that differs, in the config's order, as text. Secret
    /// environment values are compared whole but shown masked.
    public static func differences(running: GroupConfig, file: GroupConfig) -> [GroupDescription.SettingDifference] {
        let (a, b) = (GroupSettings(running), GroupSettings(file))
        var differences: [GroupDescription.SettingDifference] = []
        func compare(_ field: String, _ left: String?, _ right: String?) {
            if left != right { differences.append(.init(field: field, running: left, file: right)) }
        }
        compare("command", words(a.command), words(b.command))
        compare("count", String(a.count), String(b.count))
        compare("reloadable", String(a.reloadable), String(b.reloadable))
        compare("listen", a.listen.joined(separator: " "), b.listen.joined(separator: " "))
        compare("readiness", readinessText(running.readiness), readinessText(file.readiness))
        compare("readyTimeout", seconds(a.readyTimeout), seconds(b.readyTimeout))
        compare("reloadStrategy", a.reloadStrategy, b.reloadStrategy)
        compare("maxSurge", String(a.maxSurge), String(b.maxSurge))
        compare("stopSignal", a.stopSignal, b.stopSignal)
        compare("stopTimeout", seconds(a.stopTimeout), seconds(b.stopTimeout))
        compare("watchdogSeconds", a.watchdogSeconds.map(seconds), b.watchdogSeconds.map(seconds))
        compare("cwd", a.cwd, b.cwd)
        compare("restart", a.restartText, b.restartText)
        compare("user", a.identity?.description, b.identity?.description)
        compare("umask", a.umask, b.umask)
        for name in Set(running.resourceLimits.keys).union(file.resourceLimits.keys).sorted() {
            compare("rlimits.\(name.rawValue)", running.resourceLimits[name]?.description, file.resourceLimits[name]?.description)
        }
        compare("nice", a.nice.map(String.init), b.nice.map(String.init))
        differences += variableDifferences("env", running.env, file.env, masking: isSecret)
        compare("envFile", running.envFiles.map(\.path).joined(separator: " "), file.envFiles.map(\.path).joined(separator: " "))
        differences += variableDifferences("envFile", running.environmentFromFiles, file.environmentFromFiles, masking: { _ in true })
        compare("log", a.log?.text, b.log?.text)
        compare("stderr", a.stderr?.text, b.stderr?.text)
        compare("history", a.history?.text, b.history?.text)
        compare("outputBytesPerSecond", a.outputBytesPerSecond.map(String.init), b.outputBytesPerSecond.map(String.init))
        compare("maxMemory", a.maxMemory.map(String.init), b.maxMemory.map(String.init))
        compare("memoryMax", a.memoryMax.map(String.init), b.memoryMax.map(String.init))
        compare("cpuMax", a.cpuMax, b.cpuMax)
        compare("pidsMax", a.pidsMax.map(String.init), b.pidsMax.map(String.init))
        compare("dependsOn", a.dependsOn?.joined(separator: " "), b.dependsOn?.joined(separator: " "))
        compare("autostart", a.autostart.map(String.init), b.autostart.map(String.init))
        return differences
    }

    /// Each variable set differently, as `field.NAME`; those `masking`
    /// picks are compared whole but shown masked.
    private static func variableDifferences(
        _ field: String, _ running: [String: String], _ file: [String: String], masking isMasked: (String) -> Bool
    ) -> [GroupDescription.SettingDifference] {
        Set(running.keys).union(file.keys).sorted().compactMap { key in
            let (left, right) = (running[key], file[key])
            guard left != right else { return nil }
            guard isMasked(key) else { return .init(field: "\(field).\(key)", running: left, file: right) }
            return .init(field: "\(field).\(key)", running: left.map { _ in mask }, file: right.map { _ in
                left == nil ? mask : "\(mask) (changed)"
            })
        }
    }

    /// `notify`, `none`, `after 1s`.
    public static func readinessText(_ readiness: Readiness) -> String {
        switch readiness {
        case .none: return "none"
        case .notify: return "notify"
        case .afterSeconds(let seconds): return "after \(HumanFormat.duration(seconds: seconds))"
        }
    }

    /// An argv as a shell would take it back: words with spaces or quotes quoted.
    public static func words(_ argv: [String]) -> String {
        argv.map { word in
            word.isEmpty || word.contains(where: { " \t\"'\\$`".contains($0) })
                ? "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#) + "'"
                : word
        }.joined(separator: " ")
    }

    private static func seconds(_ value: Double) -> String { HumanFormat.duration(seconds: value) }
}
