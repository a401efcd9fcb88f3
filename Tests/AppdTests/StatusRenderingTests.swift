import Foundation
import Testing
@testable import appctl
import Shared

/// `appctl status` for people: rounded durations, group states that say
/// what the counts say, exits appd asked for marked as such, and a default
/// table that fits 100 columns with real-looking data.
@Suite struct StatusRenderingTests {
    static let now = 1_700_000_100.0

    @Test func tableDurationsAreRoundedToAtMostTwoUnits() {
        let cases: [(Double, String)] = [
            (0, "<1s"), (0.25, "<1s"), (1, "1s"), (3.9, "3s"), (59.99, "59s"), (60, "1m"), (90, "1m30s"),
            (3599, "59m59s"), (3600, "1h"), (7500, "2h5m"), (86_399, "23h59m"), (86_400, "1d"), (273_600, "3d4h"),
            (.infinity, "-"), (-1, "-"), (.nan, "-"),
        ]
        for (seconds, text) in cases {
            #expect(HumanFormat.roundedDuration(seconds: seconds) == text, "\(seconds)")
        }
        // The log keeps its tenths: "restarts in 0.1s".
        #expect(HumanFormat.duration(seconds: 0.1) == "0.1s")
    }

    /// Sixteen web workers (two still starting, one just replaced by a
    /// reload), a crash-looping queue and a scheduler, with the pids, names
    /// and texts a real machine shows.
    static let busy: StatusReport = {
        var processes: [ProcessStatus] = (0..<16).map { id in
            ProcessStatus(
                group: "web-frontend", id: id, pid: 3_999_000 + Int32(id), state: id >= 14 ? .starting : .running,
                uptime: id >= 14 ? 0.4 : 7_530, restarts: id == 3 ? 12 : 0,
                lastExit: id == 3 ? .init(.killed(signal: .kill, coreDumped: true), at: now - 4_000, uptime: 2.5) :
                    id == 5 ? .init(.killed(signal: .terminate), at: now - 95, uptime: 86_000, requested: "reload") : nil,
                rss: 187_000_000 + UInt64(id) * 1_000_000, cpu: 12.5, fds: 143, threads: 9,
                tcp: ["established": 41, "time_wait": 3],
                appStats: ["requests": 1_234_567, "sendFailures": 0, "latency": ["p50": 0.012, "p99": 0.4]],
                statusText: "serving 1,204 requests/s on 3 sockets, 41 connections open, 0 send failures")
        }
        processes += [
            ProcessStatus(group: "queue", id: 0, pid: nil, state: .backoff, uptime: nil, restarts: 27,
                          lastExit: .init(description: "failed to start: execve(/srv/app/bin/queue-worker): No such file or directory",
                                          status: nil, at: now - 2, uptime: 0),
                          backoffRemaining: 17.2),
            ProcessStatus(group: "queue", id: 1, pid: 4_012_345, state: .stopping, uptime: 1.2, restarts: 26,
                          lastExit: .init(.exited(code: 1), at: now - 31, uptime: 0.3),
                          rss: 20_000_000, cpu: 0, fds: 7, threads: 1),
            ProcessStatus(group: "scheduler", id: 0, pid: 4_100_000, state: .running, uptime: 1_000_000, restarts: 0,
                          lastExit: .init(.killed(signal: .kill), at: now - 600_000, uptime: 400_000, requested: "restart"),
                          rss: 55_000_000, cpu: 100, fds: 12, threads: 4),
        ]
        let groups = [
            GroupSummary(name: "web-frontend", count: 16, running: 16, ready: 14, starting: 2, backoff: 0, reloadable: true,
                         state: .running, listen: ["tcp://0.0.0.0:8080", "tcp://[::]:8080", "unix:/run/app/web-frontend.sock"],
                         exits: [.init(.killed(signal: .kill, coreDumped: true), count: 12), .init(.exited(code: 3), count: 2),
                                 .init(key: "not-ready", description: "not ready in time", count: 1)]),
            GroupSummary(name: "queue", count: 2, running: 1, ready: 0, starting: 1, backoff: 1, reloadable: false, state: .degraded,
                         reason: "1 of 2 processes is waiting to restart after failing (last: failed to start: "
                            + "execve(/srv/app/bin/queue-worker): No such file or directory)",
                         listen: [], exits: [.init(key: "spawn-failed", description: "failed to start", count: 27)]),
            GroupSummary(name: "scheduler", count: 1, running: 1, ready: 1, starting: 0, backoff: 0, reloadable: true,
                         state: .running, listen: [], exits: []),
        ]
        return StatusReport(
            master: MasterStatus(pid: 3_998_999, version: "0.1.0", startedAt: now - 1_000_100, uptime: 1_000_100,
                                 loadAverage: [3.25, 2.5, 1.75], groups: 3, processes: 18, rss: 24_000_000,
                                 groupSummaries: groups),
            processes: processes)
    }()

    @Test func theDefaultTableFitsOneHundredColumns() {
        let text = StatusTable.render(Self.busy, now: Self.now, layout: .standard)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines {
            #expect(line.count <= 100, "\(line.count) columns: \(line)")
        }
        // The essentials are whole: every pid, every group name, every state.
        for process in Self.busy.processes {
            #expect(lines.contains { $0.hasPrefix(process.group) && (process.pid.map { $0.description }).map($0.contains) ?? true })
        }
        #expect(text.contains("web-frontend  3   3999003  running      2h5m    12"))
        #expect(text.contains("backoff 17s"))
        // What only --wide shows.
        for column in ["FDS", "THREADS", "CONNS", "APPSTATS"] { #expect(!text.contains(column), "\(column) in\n\(text)") }
        #expect(text.contains("(STATUS left out to fit 100 columns; see --wide)"), "\(text)")
        // Long cells are cut with an ellipsis rather than pushing the line out.
        #expect(text.contains("…"), "\(text)")
        // A narrow LAST EXIT says less, and keeps its age.
        #expect(text.contains("by reload, 1m35s ago\n") && text.contains("by restart, 6d22h ago\n"), "\(text)")
        #expect(text.contains("SIGKILL (cor…, 1h6m ago\n") && text.contains("failed to start, 2s ago\n"), "\(text)")
        // The reason under the groups is wrapped, not cut.
        #expect(text.contains("queue has failed: 1 of 2 processes is waiting to restart after failing"), "\(text)")
        #expect(text.contains("No such file or directory)"), "\(text)")
    }

    @Test func theWideTableShowsEverythingWhole() throws {
        let text = StatusTable.render(Self.busy, now: Self.now, layout: .wide)
        for column in ["FDS", "THREADS", "CONNS", "STATUS", "APPSTATS"] { #expect(text.contains(column), "\(column) in\n\(text)") }
        #expect(!text.contains("…"))
        #expect(text.contains("serving 1,204 requests/s on 3 sockets, 41 connections open, 0 send failures"))
        #expect(text.contains(#"latency={"p50":0.012,"p99":0.4} requests=1234567 sendFailures=0"#), "\(text)")
        #expect(text.contains("stopped by reload (killed by SIGTERM) after 23h53m, 1m35s ago"), "\(text)")
        #expect(text.contains("killed by SIGKILL (core dumped) after 2s, 1h6m ago"), "\(text)")
        #expect(text.contains("unix:/run/app/web-frontend.sock"))
        // Still a table: every row of a section has its cells where the header has its titles.
        let lines = text.split(separator: "\n").map(String.init)
        let header = try #require(lines.first { $0.hasPrefix("GROUP") && $0.contains("LAST EXIT") })
        let lastExit = try #require(header.range(of: "LAST EXIT"))
        let row = try #require(lines.first { $0.hasPrefix("scheduler") })
        #expect(String(row.dropFirst(header.distance(from: header.startIndex, to: lastExit.lowerBound))).hasPrefix("stopped by restart"), "\(text)")
    }

    @Test func aGroupsStateSaysWhatItsCountsSay() {
        func group(_ state: GroupSummary.State, ready: Int?, starting: Int? = 0, backoff: Int? = 0, count: Int = 4) -> GroupSummary {
            GroupSummary(name: "web", count: count, running: 4, ready: ready, starting: starting, backoff: backoff,
                         reloadable: true, state: state, listen: [], exits: [])
        }
        let cases: [(GroupSummary, String, String)] = [
            (group(.running, ready: 4), "running", "4/4"),
            (group(.running, ready: 2, starting: 2), "starting", "2/4 (2 starting)"),
            (group(.degraded, ready: 3, backoff: 1), "backing off", "3/4 (1 backing off)"),
            (group(.degraded, ready: 0, starting: 1, backoff: 3), "failed", "0/4 (3 backing off, 1 starting)"),
            (group(.degraded, ready: 4), "degraded", "4/4"),
            (group(.reloading, ready: 3, starting: 2), "reloading", "3/4 (2 starting)"),
            (group(.stopped, ready: 0, count: 4), "stopped", "0/4"),
            (group(.running, ready: 0, count: 0), "running", "0/0"),
            // An older daemon: no counts, its state and running count as sent.
            (group(.running, ready: nil, starting: nil, backoff: nil), "running", "4/4"),
        ]
        for (summary, state, ready) in cases {
            #expect(StatusTable.state(of: summary) == state, "\(summary)")
            #expect(StatusTable.ready(of: summary) == ready, "\(summary)")
        }
    }

    @Test func exitsAppdAskedForAreMarkedAsSuch() {
        func text(_ requested: String?, wide: Bool = false) -> String {
            StatusTable.lastExit(.init(.killed(signal: .terminate), at: Self.now - 12, uptime: 90, requested: requested),
                                 now: Self.now, form: wide ? .wide : .standard)
        }
        func short(_ requested: String?, _ status: ExitStatus = .killed(signal: .terminate)) -> String {
            StatusTable.lastExit(.init(status, at: Self.now - 12, uptime: 90, requested: requested), now: Self.now, form: .short)
        }
        #expect(text(nil) == "killed by SIGTERM, 12s ago")
        #expect(text("reload") == "stopped by reload, 12s ago")
        #expect(text("restart") == "stopped by restart, 12s ago")
        #expect(text("scale") == "stopped (scale), 12s ago")
        #expect(text("stop") == "stopped, 12s ago")
        #expect(text("notReady") == "not ready in time, 12s ago")
        #expect(text("watchdog") == "hung (watchdog), 12s ago")
        #expect(text("somethingNew") == "stopped (somethingNew), 12s ago")
        #expect(text("reload", wide: true) == "stopped by reload (killed by SIGTERM) after 1m30s, 12s ago")
        #expect(text(nil, wide: true) == "killed by SIGTERM after 1m30s, 12s ago")
        // Where the screen is narrow.
        #expect(short("reload") == "by reload, 12s ago")
        #expect(short("scale") == "stopped (scale), 12s ago")
        #expect(short(nil) == "SIGTERM, 12s ago")
        #expect(short(nil, .killed(signal: UnixSignal(number: 11), coreDumped: true)) == "SIGSEGV (core), 12s ago")
        #expect(short(nil, .exited(code: 3)) == "exited 3, 12s ago")
        #expect(StatusTable.lastExit(.init(description: "failed to start: execve: no such file", status: nil, at: Self.now - 12, uptime: 0),
                                     now: Self.now, form: .short) == "failed to start, 12s ago")
    }

    @Test func lastExitsRequestedMemberIsAdditive() throws {
        let exit = ProcessStatus.LastExit(.killed(signal: .terminate), at: 1, uptime: 2, requested: "reload")
        let process = ProcessStatus(group: "web", id: 0, pid: 1, state: .running, uptime: 1, restarts: 0, lastExit: exit)
        let line = String(decoding: ControlReply.item(id: 1, .process(process)).encodedLine(), as: UTF8.self)
        #expect(line.contains(#""lastExit":{"at":1,"description":"killed by SIGTERM","requested":"reload","status":"signal:TERM","uptime":2}"#), "\(line)")
        // Written by hand and by the encoder alike, and read back.
        #expect(try JSONValue(parsing: Array(line.utf8)) == JSONValue(parsing: try WireJSON.encode(ControlReply.item(id: 1, .process(process)))))
        #expect(try ControlReply(line: Array(line.utf8).dropLast()) == .item(id: 1, .process(process)))
        // Without it (an exit nobody asked for), the member is left out, as before.
        let plain = ProcessStatus(group: "web", id: 0, pid: 1, state: .running, uptime: 1, restarts: 0,
                                  lastExit: .init(.exited(code: 3), at: 1, uptime: 2))
        #expect(!String(decoding: ControlReply.item(id: 1, .process(plain)).encodedLine(), as: UTF8.self).contains("requested"))
    }

    @Test func aFittedTableCutsOnlyWhatMayGiveWay() {
        let rows = [["NAME", "NOTE", "MORE"], ["a-long-name", "a note that is rather long", "and more text here"]]
        let fitted = TextTable.fitted(rows, fit: .init(width: 40, steps: [
            .shrink(column: 2, minimum: 8), .drop(column: 2), .shrink(column: 1, minimum: 10),
        ]))
        #expect(fitted.text == "NAME         NOTE\na-long-name  a note that is rather long\n")
        #expect(fitted.dropped == ["MORE"])
        let cut = TextTable.render(rows, fit: .init(width: 30, steps: [.drop(column: 2), .shrink(column: 1, minimum: 10)]))
        #expect(cut == "NAME         NOTE\na-long-name  a note that is r…\n")
        #expect(cut.split(separator: "\n").allSatisfy { $0.count <= 30 })
        #expect(TextTable.render([["WHAT"], ["stopped by reload, 1m35s ago"]], fit: .init(width: 20, steps: [
            .shrink(column: 0, minimum: 8, keepingTail: ", "),
        ])) == "WHAT\nstopped …, 1m35s ago\n")
        // Nothing allowed to give way: the table stays as wide as it is.
        #expect(TextTable.render(rows, fit: .init(width: 10, steps: [])) == TextTable.render(rows))
    }

    @Test func statusWideIsAnOption() throws {
        guard case .run(let command) = try CommandLineParser.parse(["status", "--wide"]) else {
            Issue.record("no command")
            return
        }
        #expect(command.wide && command.request == .status(group: nil, watch: nil))
        guard case .run(let plain) = try CommandLineParser.parse(["status"]) else { return }
        #expect(!plain.wide)
    }
}
