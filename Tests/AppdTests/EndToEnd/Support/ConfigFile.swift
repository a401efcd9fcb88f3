import Foundation

extension EndToEnd {
    /// One group of the config a test writes.
    struct GroupSpec: Sendable {
        var name: String
        var command: [String]
        var count: Int = 1
        var reloadable: Bool? = nil
        var listen: [String] = []
        var stopTimeout: Double? = nil
        var stopSignal: String? = nil
        /// "none", "notify", or seconds for `{afterSeconds: N}`.
        var readiness: Readiness? = nil
        /// Seconds a `notify` process has to send READY=1 (appd's default: 30).
        var readyTimeout: Double? = nil
        /// "startFirst" or "stopFirst" (appd's default: startFirst).
        var reloadStrategy: String? = nil
        var maxSurge: Int? = nil
        var watchdogSeconds: Double? = nil
        var outputBytesPerSecond: Int? = nil
        /// "always", "on-failure" or "never" (appd's default: always).
        var restart: String? = nil
        var maxRestarts: Int? = nil
        var dependsOn: [String] = []
        var autostart: Bool? = nil
        var env: [String: String] = [:]
        var envFile: [String] = []
        /// Absolute; nil: the config file's directory.
        var cwd: String? = nil
        var user: String? = nil
        var umask: String? = nil
        var nice: Int? = nil
        /// Each resource as `{soft, hard}`.
        var rlimits: [String: (soft: Int, hard: Int)] = [:]
        /// `maxMemory`, e.g. "50M".
        var maxMemory: String? = nil
        /// `log`, `stderr` and `history` as the config writes them.
        var log: LogSpec? = nil
        var stderrLog: LogSpec? = nil
        var history: (lines: Int, bytes: Int)? = nil

        enum Readiness: Sendable {
            case none, notify
            case afterSeconds(Double)
        }

        var json: [String: Any] {
            var object: [String: Any] = ["name": name, "command": command, "count": count]
            if let reloadable { object["reloadable"] = reloadable }
            if !listen.isEmpty { object["listen"] = listen }
            if let stopTimeout { object["stopTimeout"] = stopTimeout }
            if let stopSignal { object["stopSignal"] = stopSignal }
            if let readyTimeout { object["readyTimeout"] = readyTimeout }
            if let reloadStrategy { object["reloadStrategy"] = reloadStrategy }
            if let maxSurge { object["maxSurge"] = maxSurge }
            if let watchdogSeconds { object["watchdogSeconds"] = watchdogSeconds }
            if let outputBytesPerSecond { object["outputBytesPerSecond"] = outputBytesPerSecond }
            if let restart { object["restart"] = restart }
            if let maxRestarts { object["maxRestarts"] = maxRestarts }
            if !dependsOn.isEmpty { object["dependsOn"] = dependsOn }
            if let autostart { object["autostart"] = autostart }
            if !env.isEmpty { object["env"] = env }
            if !envFile.isEmpty { object["envFile"] = envFile }
            if let cwd { object["cwd"] = cwd }
            if let user { object["user"] = user }
            if let umask { object["umask"] = umask }
            if let nice { object["nice"] = nice }
            if !rlimits.isEmpty { object["rlimits"] = rlimits.mapValues { ["soft": $0.soft, "hard": $0.hard] } }
            if let maxMemory { object["maxMemory"] = maxMemory }
            if let log { object["log"] = log.json }
            if let stderrLog { object["stderr"] = stderrLog.json }
            if let history { object["history"] = ["lines": history.lines, "bytes": history.bytes] }
            switch readiness {
            case nil: break
            case .none?: object["readiness"] = "none"
            case .notify?: object["readiness"] = "notify"
            case .afterSeconds(let seconds)?: object["readiness"] = ["afterSeconds": seconds]
            }
            return object
        }
    }

    /// A log file's settings: `{file, maxBytes, keep, format}`; `file` relative to the config's directory.
    struct LogSpec: Sendable {
        var file: String?
        var maxBytes: Int? = nil
        var keep: Int? = nil
        var format: String? = nil

        var json: [String: Any] {
            var object: [String: Any] = [:]
            if let file { object["file"] = file }
            if let maxBytes { object["maxBytes"] = maxBytes }
            if let keep { object["keep"] = keep }
            if let format { object["format"] = format }
            return object
        }
    }

    /// The daemon-wide settings a test chooses; the file paths are filled in by
    /// `DaemonUnderTest`, inside its own temporary directory.
    struct DaemonSpec: Sendable {
        var stopTimeout: Double = 2
        var groups: [GroupSpec]
        /// `metrics: {listen: ...}`, e.g. "tcp://127.0.0.1:9469"; nil: no metrics listener.
        var metricsListen: String?
        /// `cgroups`; nil leaves appd's default (used where the host allows).
        var cgroups: Bool?
        /// `logFile` in its object form (its `file` is the daemon's log file); nil: the string form.
        var logRotation: (maxBytes: Int, keep: Int)? = nil

        init(stopTimeout: Double = 2, groups: [GroupSpec], metricsListen: String? = nil, cgroups: Bool? = nil,
             logRotation: (maxBytes: Int, keep: Int)? = nil) {
            self.stopTimeout = stopTimeout
            self.groups = groups
            self.metricsListen = metricsListen
            self.cgroups = cgroups
            self.logRotation = logRotation
        }

        /// JSON5 text (a comment and JSON; JSON is JSON5).
        func render(controlSocket: String, pidFile: String, statusFile: String, logFile: String) -> String {
            var object: [String: Any] = [
                "controlSocket": controlSocket, "pidFile": pidFile, "statusFile": statusFile,
                "logFile": logRotation.map { ["file": logFile, "maxBytes": $0.maxBytes, "keep": $0.keep] as [String: Any] } ?? logFile,
                "stopTimeout": stopTimeout, "groups": groups.map(\.json),
            ]
            if let metricsListen { object["metrics"] = ["listen": metricsListen] }
            if let cgroups { object["cgroups"] = cgroups }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return "// written by the appd end-to-end tests\n" + String(decoding: data, as: UTF8.self) + "\n"
        }
    }

    /// Commands for children, each a behaviour the master must cope with.
    enum Commands {
        static let sleepForever = ["/bin/sleep", "1000"]
        static let exit3 = ["/bin/sh", "-c", "exit 3"]
        /// A shell that ignores SIGTERM: only SIGKILL ends it.
        static let ignoreTerm = ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]
        /// A child that forks a grandchild and waits for it.
        static let forksGrandchild = ["/bin/sh", "-c", "sleep 1000 & wait"]

        static func demo(_ mode: String, _ options: String...) -> [String] { [Binaries.demoWorker, mode] + options }
    }
}
