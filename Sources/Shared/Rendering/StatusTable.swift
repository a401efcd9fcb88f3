
/// One `status` snapshot: the master item, then the process items — as
/// `appd` builds it and as `appctl` receives it.
public struct StatusReport: Equatable, Sendable {
    public var master: MasterStatus?
    public var processes: [ProcessStatus] = []

    public init(master: MasterStatus? = nil, processes: [ProcessStatus] = []) {
        self.master = master
        self.processes = processes
    }
}

/// `appctl status` for people, and the status file `appd` writes on SIGUSR2: the master on one line, a table of processes
/// (`supervisorctl status` / `pm2 list`), then a table of groups with their
/// failed exits. Durations rounded and sizes in units people read (3m12s,
/// 14.2 MiB); `--json` has the exact figures.
public enum StatusTable {
    /// How much to show.
    public enum Layout: Equatable, Sendable {
        /// Every column and every cell whole: `appctl status --wide`, and the
        /// status file (a file has no screen to fit).
        case wide
        /// What matters at a glance, within this many columns: FDS, THREADS,
        /// CONNS and APPSTATS are left out, LAST EXIT and STATUS (and the
        /// groups' LISTEN and FAILED EXITS) are cut with `…` when a line
        /// would be longer, and STATUS goes when even that is not enough.
        case fitting(Int)

        /// `appctl status`: what a terminal of 100 columns shows whole.
        public static let standard = Layout.fitting(100)
    }

    /// `now` is the client's Unix time, for "12s ago".
    public static func render(_ snapshot: StatusReport, now: Double, layout: Layout = .wide) -> String {
        var text = ""
        if let master = snapshot.master { text += masterLine(master) + "\n\n" }
        text += snapshot.processes.isEmpty ? "no processes\n" : processTable(snapshot.processes, now: now, layout: layout)
        if let groups = snapshot.master?.groupSummaries, !groups.isEmpty {
            text += "\n" + groupTable(groups, layout: layout)
        }
        return text
    }

    /// `appd 0.1.0  pid 4242  up 3h12m  load 0.12 0.30 0.25  groups 2  processes 5  mem 12.4 MiB`
    public static func masterLine(_ master: MasterStatus) -> String {
        var parts = [
            "appd \(master.version)", "pid \(master.pid)", "up \(HumanFormat.roundedDuration(seconds: master.uptime))",
            "load " + master.loadAverage.map(twoDecimals).joined(separator: " "),
            "groups \(master.groups)", "processes \(master.processes)",
        ]
        if let rss = master.rss { parts.append("mem \(HumanFormat.bytes(rss))") }
        return parts.joined(separator: "  ")
    }

    /// GROUP ID PID STATE UPTIME RESTARTS [CPU MEM FDS THREADS CONNS] LAST
    /// EXIT [STATUS] [APPSTATS]: the bracketed columns appear when any
    /// process has the figure (FDS, THREADS, CONNS and APPSTATS only in the
    /// wide layout).
    public static func processTable(_ processes: [ProcessStatus], now: Double, layout: Layout = .wide) -> String {
        let wide = layout == .wide
        let figures: [(title: String, wideOnly: Bool, cell: (ProcessStatus) -> String?)] = [
            ("CPU", false, { $0.cpu.map { HumanFormat.oneDecimal($0) + "%" } }),
            ("MEM", false, { $0.rss.map(HumanFormat.bytes) }),
            ("FDS", true, { $0.fds.map(String.init) }),
            ("THREADS", true, { $0.threads.map(String.init) }),
            ("CONNS", true, { $0.tcp.map { String($0["established"] ?? 0) } }),
        ]
        let optionalColumns = figures.filter { column in
            (wide || !column.wideOnly) && processes.contains { column.cell($0) != nil }
        }
        let showsStatusText = processes.contains { !($0.statusText ?? "").isEmpty }
        let showsAppStats = wide && processes.contains { $0.appStats != nil }

        var header = ["GROUP", "ID", "PID", "STATE", "UPTIME", "RESTARTS"] + optionalColumns.map(\.title) + ["LAST EXIT"]
        let lastExitColumn = header.count - 1
        if showsStatusText { header.append("STATUS") }
        if showsAppStats { header.append("APPSTATS") }
        func rows(_ form: LastExitForm) -> [[String]] {
            processes.map { process in
                var row = [
                    process.group, String(process.id), process.pid.map(String.init) ?? "-", state(of: process),
                    process.uptime.map { HumanFormat.roundedDuration(seconds: $0) } ?? "-", String(process.restarts),
                ]
                row += optionalColumns.map { $0.cell(process) ?? "-" }
                row.append(process.lastExit.map { lastExit($0, now: now, form: form) } ?? "-")
                if showsStatusText { row.append(process.statusText ?? "") }
                if showsAppStats { row.append(process.appStats.map(appStats) ?? "") }
                return row
            }
        }
        guard case .fitting(let width) = layout else { return TextTable.render([header] + rows(.wide)) }
        // STATUS gives way first: cut, then left out; then LAST EXIT says
        // less ("by reload, 3m ago"), and is cut last, keeping its age.
        let statusSteps: [TextTable.Fit.Step] = showsStatusText
            ? [.shrink(column: lastExitColumn + 1, minimum: 12), .drop(column: lastExitColumn + 1)] : []
        let fit = TextTable.Fit(width: width, steps: statusSteps + [.shrink(column: lastExitColumn, minimum: 18, keepingTail: ", ")])
        var (table, dropped, cut) = TextTable.fitted([header] + rows(.standard), fit: fit)
        if cut.contains("LAST EXIT") { (table, dropped, cut) = TextTable.fitted([header] + rows(.short), fit: fit) }
        guard !dropped.isEmpty else { return table }
        return table + "(\(dropped.joined(separator: ", ")) left out to fit \(width) columns; see --wide)\n"

    }

    /// GROUP STATE READY RELOAD LISTEN FAILED EXITS, one row per group,
    /// then why each degraded group is in trouble (too long for a cell).
    public static func groupTable(_ groups: [GroupSummary], layout: Layout = .wide) -> String {
        let header = ["GROUP", "STATE", "READY", "RELOAD", "LISTEN", "FAILED EXITS"]
        let rows = groups.map { group in
            [
                group.name, state(of: group), ready(of: group),
                group.reloadable ? "rolling" : "SIGUSR1",
                group.listen.isEmpty ? "-" : group.listen.joined(separator: " "),
                group.exits.isEmpty ? "-" : group.exits.map { "\($0.description) ×\($0.count)" }.joined(separator: ", "),
            ]
        }
        let reasons = groups.compactMap { group -> String? in
            guard let reason = group.reason else { return nil }
            if group.state == .waiting { return "\(group.name) is \(reason)" }
            guard group.state == .degraded else { return nil }
            let label = state(of: group)
            let verb = label == "failed" ? "has" : "is"
            return "\(group.name) \(verb) \(label): \(reason)"
        }
        guard case .fitting(let width) = layout else {
            return TextTable.render([header] + rows) + (reasons.isEmpty ? "" : "\n" + reasons.map { $0 + "\n" }.joined())
        }
        let table = TextTable.render([header] + rows, fit: TextTable.Fit(width: width, steps: [
            .shrink(column: 5, minimum: 14), .shrink(column: 4, minimum: 12),
        ]))
        let wrapped = reasons.flatMap { wrap($0, width: width, indent: "  ") }
        return table + (wrapped.isEmpty ? "" : "\n" + wrapped.map { $0 + "\n" }.joined())
    }

    /// What a group is doing, in a word or two, from its counts: `running`
    /// (every process ready), `starting` (the rest on their way), `backing
    /// off` (some failing, some serving), `failed` (some failing, none
    /// serving), `degraded` (the last reload failed), `reloading`,
    /// `stopped`. A daemon that sends no counts gets its state as sent.
    public static func state(of group: GroupSummary) -> String {
        switch group.state {
        case .stopped, .reloading, .completed, .waiting:
            return group.state.rawValue
        case .running, .degraded:
            guard let ready = group.ready else { return group.state.rawValue }
            if let backoff = group.backoff, backoff > 0 { return ready == 0 ? "failed" : "backing off" }
            if group.state == .degraded { return "degraded" }
            return ready < group.count ? "starting" : "running"
        }
    }

    /// `4/4`, `14/16 (2 starting)`, `1/4 (2 backing off, 1 starting)`: ready
    /// of configured, and where the others are.
    public static func ready(of group: GroupSummary) -> String {
        guard let ready = group.ready else { return "\(group.running)/\(group.count)" }
        let others = [
            (group.failed ?? 0, "failed"), (group.backoff ?? 0, "backing off"), (group.starting ?? 0, "starting"),
            (group.completed ?? 0, "completed"),
        ].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        return "\(ready)/\(group.count)" + (others.isEmpty ? "" : " (\(others.joined(separator: ", ")))")
    }

    /// "backoff 2s" says how long until the next attempt.
    private static func state(of process: ProcessStatus) -> String {
        guard process.state == .backoff, let remaining = process.backoffRemaining else { return process.state.rawValue }
        return "backoff \(HumanFormat.roundedDuration(seconds: remaining))"
    }

    /// How much a LAST EXIT cell says.
    public enum LastExitForm: Sendable {
        /// "stopped by reload (killed by SIGTERM) after 3h5m, 2m ago"
        case wide
        /// "stopped by reload, 2m ago", "exited 3, 12s ago"
        case standard
        /// "by reload, 2m ago", "SIGKILL, 12s ago": for a narrow screen.
        case short
    }

    /// "exited 3, 12s ago"; "stopped by reload, 2m ago" for an exit appd
    /// asked for (see `LastExitForm`).
    public static func lastExit(_ exit: ProcessStatus.LastExit, now: Double, form: LastExitForm = .standard) -> String {
        let what: String
        switch (exit.requested, form) {
        case (nil, .short):
            if let status = exit.status, status.hasPrefix("signal:") {
                what = "SIG" + status.dropFirst("signal:".count) + (exit.description.hasSuffix("(core dumped)") ? " (core)" : "")
            } else {
                what = exit.status == nil ? "failed to start" : exit.description
            }
        case (nil, _): what = exit.description
        case ("reload", .short): what = "by reload"
        case ("reload", _): what = "stopped by reload"
        case ("restart", .short): what = "by restart"
        case ("restart", _): what = "stopped by restart"
        case ("scale", _): what = "stopped (scale)"
        case ("stop", _): what = "stopped"
        case ("reloadAborted", _): what = "stopped (reload aborted)"
        case ("notReady", .short): what = "not ready"
        case ("notReady", _): what = "not ready in time"
        case ("watchdog", .short): what = "hung"
        case ("watchdog", _): what = "hung (watchdog)"
        case (let other?, _): what = "stopped (\(other))"
        }
        let age = "\(HumanFormat.roundedDuration(seconds: max(0, now - exit.at))) ago"
        guard form == .wide else { return "\(what), \(age)" }
        let how = exit.requested == nil ? "" : " (\(exit.description))"
        return "\(what)\(how) after \(HumanFormat.roundedDuration(seconds: exit.uptime)), \(age)"
    }

    /// `requests=120 errors={"timeouts":1}`: a worker's APPSTATS object,
    /// members sorted, values as JSON.
    public static func appStats(_ value: JSONValue) -> String {
        guard case .object(let members) = value else { return json(value) }
        return members.keys.sorted().map { key in
            let member = members[key]!
            if case .string(let text) = member, !text.contains(" ") { return "\(key)=\(text)" }
            return "\(key)=\(json(member))"
        }.joined(separator: " ")
    }

    private static func json(_ value: JSONValue) -> String {
        var text = JSONText(capacity: 64)
        guard text.value(value) else { return "?" }
        return String(decoding: text.bytes, as: UTF8.self)
    }

    /// Words filled into lines of at most `width`, continuation lines indented.
    private static func wrap(_ text: String, width: Int, indent: String) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
            }
            line += (line.isEmpty || line == indent ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// `0.12`: load averages are read to two decimals, as uptime(1) prints them.
    private static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
