
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
/// failed exits. Durations and sizes in units people read (3m12s, 14.2 MiB).
public enum StatusTable {
    /// `now` is the client's Unix time, for "12s ago".
    public static func render(_ snapshot: StatusReport, now: Double) -> String {
        var text = ""
        if let master = snapshot.master { text += masterLine(master) + "\n\n" }
        text += snapshot.processes.isEmpty ? "no processes\n" : processTable(snapshot.processes, now: now)
        if let groups = snapshot.master?.groupSummaries, !groups.isEmpty {
            text += "\n" + groupTable(groups)
        }
        return text
    }

    /// `appd 0.1.0  pid 4242  up 3h12m  load 0.12 0.30 0.25  groups 2  processes 5  mem 12.4 MiB`
    public static func masterLine(_ master: MasterStatus) -> String {
        var parts = [
            "appd \(master.version)", "pid \(master.pid)", "up \(HumanFormat.duration(seconds: master.uptime))",
            "load " + master.loadAverage.map(twoDecimals).joined(separator: " "),
            "groups \(master.groups)", "processes \(master.processes)",
        ]
        if let rss = master.rss { parts.append("mem \(HumanFormat.bytes(rss))") }
        return parts.joined(separator: "  ")
    }

    /// GROUP ID PID STATE UPTIME RESTARTS [CPU MEM FDS CONNS] LAST EXIT [STATUS]:
    /// the bracketed columns appear when any process has the figure.
    public static func processTable(_ processes: [ProcessStatus], now: Double) -> String {
        let optionalColumns: [(title: String, cell: (ProcessStatus) -> String?)] = [
            ("CPU", { $0.cpu.map { HumanFormat.oneDecimal($0) + "%" } }),
            ("MEM", { $0.rss.map(HumanFormat.bytes) }),
            ("FDS", { $0.fds.map(String.init) }),
            ("CONNS", { $0.tcp.map { String($0["established"] ?? 0) } }),
        ].filter { column in processes.contains { column.cell($0) != nil } }
        let showsStatusText = processes.contains { !($0.statusText ?? "").isEmpty }

        var header = ["GROUP", "ID", "PID", "STATE", "UPTIME", "RESTARTS"] + optionalColumns.map(\.title) + ["LAST EXIT"]
        if showsStatusText { header.append("STATUS") }
        let rows = processes.map { process in
            var row = [
                process.group, String(process.id), process.pid.map(String.init) ?? "-", state(of: process),
                process.uptime.map { HumanFormat.duration(seconds: $0) } ?? "-", String(process.restarts),
            ]
            row += optionalColumns.map { $0.cell(process) ?? "-" }
            row.append(process.lastExit.map { lastExit($0, now: now) } ?? "-")
            if showsStatusText { row.append(process.statusText ?? "") }
            return row
        }
        return TextTable.render([header] + rows)
    }

    /// GROUP STATE RUNNING RELOAD LISTEN FAILED EXITS, one row per group,
    /// then why each degraded group is degraded (too long for a cell).
    public static func groupTable(_ groups: [GroupSummary]) -> String {
        let header = ["GROUP", "STATE", "RUNNING", "RELOAD", "LISTEN", "FAILED EXITS"]
        let rows = groups.map { group in
            [
                group.name, group.state.rawValue, "\(group.running)/\(group.count)",
                group.reloadable ? "rolling" : "SIGUSR1",
                group.listen.isEmpty ? "-" : group.listen.joined(separator: " "),
                group.exits.isEmpty ? "-" : group.exits.map { "\($0.description) ×\($0.count)" }.joined(separator: ", "),
            ]
        }
        let reasons = groups.compactMap { group in
            group.state == .degraded ? group.reason.map { "\(group.name) is degraded: \($0)\n" } : nil
        }
        return TextTable.render([header] + rows) + (reasons.isEmpty ? "" : "\n" + reasons.joined())
    }

    /// "backoff 1.5s" says how long until the next attempt.
    private static func state(of process: ProcessStatus) -> String {
        guard process.state == .backoff, let remaining = process.backoffRemaining else { return process.state.rawValue }
        return "backoff \(HumanFormat.duration(seconds: remaining))"
    }

    /// "exited 3, 12s ago".
    private static func lastExit(_ exit: ProcessStatus.LastExit, now: Double) -> String {
        "\(exit.description), \(HumanFormat.duration(seconds: max(0, now - exit.at))) ago"
    }

    /// `0.12`: load averages are read to two decimals, as uptime(1) prints them.
    private static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
