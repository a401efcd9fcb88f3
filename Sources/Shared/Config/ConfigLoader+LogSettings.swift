extension ConfigLoader {
    /// A log object's fields as written, before defaults: a group's `log`
    /// takes what it leaves out from the top-level `log`, and its `stderr`
    /// from its `log`.
    struct LogFileFields {
        var file: String?
        var maxBytes: Int?
        var keep: Int?
        var format: LogFormat?

        /// These fields, with `defaults` for those left out.
        func over(_ defaults: LogFileFields) -> LogFileFields {
            LogFileFields(file: file ?? defaults.file, maxBytes: maxBytes ?? defaults.maxBytes,
                          keep: keep ?? defaults.keep, format: format ?? defaults.format)
        }

        /// The settings for a file at `path`, appd's defaults for what no level gave.
        func config(path: String) -> LogFileConfig {
            LogFileConfig(path: path, maxBytes: maxBytes ?? LogFileConfig.defaultMaxBytes,
                          keep: keep ?? LogFileConfig.defaultKeep, format: format ?? .text)
        }
    }

    /// In a log's `file`, replaced by the group's name: the top-level `log`
    /// gives every group a file of its own with it (supervisord's
    /// `%(program_name)s`). Group names cannot hold '/' or "..".
    static let groupPlaceholder = "{group}"
}

/// The log settings: `logFile` (the daemon's own log), the top-level `log`
/// (defaults for the groups), and each group's `log`, `stderr` and `history`.
extension ConfigLoader.Validator {
    static let logFields = ["file", "maxBytes", "keep", "format"]

    /// A log object's fields, its `file` made absolute ("-" kept as it is).
    func readLogFields(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> ConfigLoader.LogFileFields? {
        guard let fields = object(value, at: path, known: Self.logFields) else { return nil }
        return ConfigLoader.LogFileFields(
            file: optional("file", in: fields, .logFile(relativeTo: directory)),
            maxBytes: optional("maxBytes", in: fields, .rotationSize),
            keep: optional("keep", in: fields, .integer.atLeast(0).atMost(LogFileConfig.maximumKeep)),
            format: optional("format", in: fields, .oneOf(LogFormat.self)))
    }

    /// `logFile`: a path or "-" (stderr), never rotated by appd, as it
    /// always was; or `{file, maxBytes, keep, format}`, rotated like a
    /// group's log.
    func readDaemonLog(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> LogFileConfig? {
        switch value {
        case .string:
            return check(value, at: path, .logFile(relativeTo: directory)).map(LogFileConfig.unrotated)
        case .object:
            guard var fields = readLogFields(value, at: path) else { return nil }
            if fields.format == .raw {
                report(path.key("format"), "\"raw\" is for a group's output (the workers' bytes as they wrote them); "
                    + "appd's own log is \"text\" or \"json\"")
                fields.format = nil
            }
            guard let file = fields.file else {
                report(path.key("file"), "is required")
                return nil
            }
            guard file == "-" else { return fields.config(path: file) }
            for (key, given) in [("maxBytes", fields.maxBytes != nil), ("keep", fields.keep != nil)] where given {
                report(path.key(key), "applies to a file, not to \"-\" (stderr, which appd cannot rotate)")
            }
            return LogFileConfig(path: "-", maxBytes: 0, keep: 0, format: fields.format ?? .text)
        default:
            report(path, "must be a path, \"-\" (stderr) or an object {file, maxBytes, keep, format}, got \(value.kindAndValue)")
            return nil
        }
    }

    /// The top-level `log`: what every group's `log` leaves out. A `file`
    /// here must contain `{group}`: groups do not share a file.
    func readGroupLogDefaults(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> ConfigLoader.LogFileFields? {
        guard var fields = readLogFields(value, at: path) else { return nil }
        if let file = fields.file, file != "-", !file.contains(ConfigLoader.groupPlaceholder) {
            report(path.key("file"), "must contain \(ConfigLoader.groupPlaceholder), so that each group gets a file of its own "
                + "(e.g. \"logs/\(ConfigLoader.groupPlaceholder).log\"), got '\(file)'")
            fields.file = nil
        }
        return fields
    }

    /// A group's log files: its `log` over the top-level defaults, its
    /// `stderr` over its `log`; a file "-" (or none) is the daemon's log.
    /// Each file and its rotated copies take paths of their own.
    func groupLogs(_ group: ConfigLoader.Fields, name: String, defaults: ConfigLoader.LogFileFields) -> (LogFileConfig?, LogFileConfig?) {
        let ownLog = group["log"]
        let output = (ownLog.flatMap { readLogFields($0.value, at: $0.path) } ?? ConfigLoader.LogFileFields()).over(defaults)
        var log: LogFileConfig?
        if let file = output.file, file != "-" {
            log = output.config(path: file.replacing(ConfigLoader.groupPlaceholder, with: name))
        } else if let ownLog, output.file == nil {
            report(ownLog.path.key("file"), "is required (here, or with \(ConfigLoader.groupPlaceholder) in the top-level log)")
        }
        var stderrLog: LogFileConfig?
        if let field = group["stderr"], let fields = readLogFields(field.value, at: field.path) {
            if let file = fields.file {
                if file != "-" {
                    stderrLog = fields.over(output).config(path: file.replacing(ConfigLoader.groupPlaceholder, with: name))
                }
            } else {
                report(field.path.key("file"), "is required")
            }
        }
        if let log { claimLogFile(log, what: "the log of group \(name)", at: ownLog?.path ?? group.path.key("log")) }
        if let stderrLog, let field = group["stderr"] { claimLogFile(stderrLog, what: "the stderr log of group \(name)", at: field.path) }
        return (log, stderrLog)
    }

    /// A log file and its rotated copies take paths that no other runtime
    /// file, log or unix socket has (two writers would interleave, and one
    /// rotation would rename the other's file).
    private func claimLogFile(_ log: LogFileConfig, what: String, at path: ConfigLoader.FieldPath) {
        let files = [(log.path, what)] + log.rotatedPaths.map { ($0, "a rotated copy of \(what)") }
        for (file, _) in files {
            if let other = runtimeFiles[file] ?? sockets[.unix(path: file)].map({ "the unix socket of \($0)" }) {
                report(path, "'\(file)' is also \(other); every runtime file needs a path of its own")
                return
            }
        }
        for (file, role) in files { runtimeFiles[file] = role }
    }

    /// `history: {lines, bytes}`: how much recent output the master keeps
    /// for `appctl logs`; each left out keeps its default.
    func readHistory(_ value: ConfigLoader.Value, at path: ConfigLoader.FieldPath) -> HistoryLimits? {
        guard let fields = object(value, at: path, known: ["lines", "bytes"]) else { return nil }
        let lines = optional("lines", in: fields, .integer.atLeast(1).atMost(HistoryLimits.maximumLines))
        let bytes = optional("bytes", in: fields, .integer.atLeast(HistoryLimits.minimumBytes).atMost(HistoryLimits.maximumBytes))
        return HistoryLimits(lines: lines ?? HistoryLimits.standard.lines, bytes: bytes ?? HistoryLimits.standard.bytes)
    }
}
