import Shared

/// `appctl describe` for people: one block per group, a label per setting,
/// then the config file's differences and the last reload.
///
///     web
///       command      /srv/app/bin/web --port 0
///       count        4
///       user         www (uid 1001), gid 1001
///       ...
///       config file  /etc/appd.json: 1 difference, which `appctl reload web` applies:
///                      count  4 → 8
enum DescribeText {
    static func render(_ group: GroupDescription, now: Double) -> String {
        let settings = group.config
        let rows: [(String, [String])] = [
            ("command", [GroupSettings.words(settings.command)]),
            ("count", [String(settings.count)]),
            ("cwd", [settings.cwd]),
            ("env", settings.env.isEmpty ? ["-"] : settings.env.keys.sorted().map { "\($0)=\(settings.env[$0]!)" }),
            ("envFile", settings.envFile.map { $0.map(environmentFile) } ?? ["-"]),
            ("history", [settings.history?.text ?? "-"]),
            ("limits", settings.limitsText.isEmpty ? ["-"] : settings.limitsText),
            ("listen", settings.listen.isEmpty ? ["-"] : settings.listen),
            ("nice", [settings.nice.map(String.init) ?? "-"]),
            ("output", settings.outputText),
            ("readiness", [readiness(settings)]),
            ("reload", [settings.reloadable
                ? "rolling, \(settings.reloadStrategy)" + (settings.reloadStrategy == "startFirst" ? ", maxSurge \(settings.maxSurge)" : "")
                : "not reloadable: a reload sends SIGUSR1"]),
            ("restart", [settings.restartText ?? "-"]),
            ("rlimits", settings.rlimits.map { limits in limits.keys.sorted().map { "\($0) \(limits[$0]!)" } } ?? ["-"]),
            ("start", [settings.startText ?? "-"]),
            ("stop", ["\(signalName(settings.stopSignal)), then SIGKILL after \(HumanFormat.duration(seconds: settings.stopTimeout))"]),
            ("umask", [settings.umask ?? "-"]),
            ("user", [settings.identity?.description ?? "-"]),
            ("watchdog", [settings.watchdogSeconds.map { "WATCHDOG=1 at least every \(HumanFormat.duration(seconds: $0))" } ?? "-"]),
            ("last reload", lastReload(group.lastReload, now: now)),
            ("config file", configFile(group)),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        var text = group.name + "\n"
        for (label, lines) in rows {
            for (index, line) in lines.enumerated() {
                let head = index == 0 ? label + String(repeating: " ", count: width - label.count) : String(repeating: " ", count: width)
                text += "  \(head)  \(line)\n"
            }
        }
        return text
    }

    /// `/srv/app.env: DB_URL PORT`, or why it set nothing; values are not shown.
    private static func environmentFile(_ file: GroupSettings.EnvironmentFileSettings) -> String {
        let path = file.optional ? "-\(file.path)" : file.path
        if !file.exists { return "\(path): not there (optional), sets nothing" }
        return file.variables.isEmpty ? "\(path): sets nothing" : "\(path): \(file.variables.joined(separator: " "))"
    }

    /// `SIGTERM`; a signal without a name as its number, `signal 40`.
    private static func signalName(_ name: String) -> String {
        UnixSignal(name: name).map(\.description) ?? name
    }

    private static func readiness(_ settings: GroupSettings) -> String {
        switch settings.readiness {
        case "notify": return "notify: READY=1 within \(HumanFormat.duration(seconds: settings.readyTimeout))"
        case "none": return "none: ready once started"
        default:
            if let seconds = settings.readiness["afterSeconds"]?.doubleValue {
                return "afterSeconds: ready after \(HumanFormat.duration(seconds: seconds)) up"
            }
            return "\(settings.readiness)"
        }
    }

    private static func lastReload(_ last: GroupDescription.LastReload?, now: Double) -> [String] {
        guard let last else { return ["none since appd started"] }
        let ago = "\(HumanFormat.roundedDuration(seconds: max(0, now - last.at))) ago"
        let replaced = counted(last.replaced, "process", "processes") + " replaced"
        var line: String
        switch last.outcome {
        case .completed:
            line = "completed \(ago): \(replaced)"
            if let started = last.started, started > 0 {
                line += ", \(counted(started, "slot that was not running", "slots that were not running")) started"
            }
        case .signalled:
            line = "signalled \(ago): SIGUSR1 to \(counted(last.signalled ?? 0, "process", "processes")) (not reloadable)"
        case .aborted:
            line = "aborted \(ago) after \(replaced)" + (last.reason.map { ": \($0)" } ?? "")
        }
        return [line] + (last.notes ?? []).map { "note: \($0)" }
    }

    private static func configFile(_ group: GroupDescription) -> [String] {
        guard let file = group.configFile else { return [group.fileProblem ?? "-"] }
        if let problem = group.fileProblem { return ["\(file): \(problem)"] }
        guard let differences = group.differences else { return [file] }
        if differences.isEmpty { return ["\(file): the same as what runs"] }
        let applies = group.config.reloadable
            ? "which `appctl reload \(group.name)` applies"
            : "which `appctl reload \(group.name)` takes on for new processes (`appctl restart \(group.name)` restarts the running ones with them)"
        let width = differences.map(\.field.count).max() ?? 0
        return ["\(file): \(counted(differences.count, "difference", "differences")), \(applies):"] + differences.map { difference in
            let field = difference.field + String(repeating: " ", count: width - difference.field.count)
            return "  \(field)  \(difference.running ?? "(not set)") → \(difference.file ?? "(not set)")"
        }
    }
}
