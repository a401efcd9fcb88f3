import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// Which families a snapshot becomes, and what a worker's APPSTATS may put
/// in them (MetricsSnapshot+Exposition, AppStatsFigures).
@Suite struct MetricsSnapshotTests {
    static func snapshot() -> MetricsSnapshot {
        MetricsSnapshot(
            version: "9.9.9", startedAt: 1_700_000_000,
            groups: [
                MetricsSnapshot.Group(
                    name: "web", desired: 2, running: 2, ready: 1,
                    processes: [.running: 1, .starting: 1, .stopping: 0, .backoff: 0, .stopped: 0], healthy: false,
                    restarts: 4, exitsByReason: ["signal:KILL": 3, "requested:reload": 2], spawnFailures: 1,
                    reloadsByOutcome: ["completed": 1, "signalled": 0, "aborted": 1], lastReloadDuration: 2.5,
                    outputLinesDropped: 7),
            ],
            processes: [
                MetricsSnapshot.Process(group: "web", id: 0, pid: 4711, residentBytes: 1 << 20, cpuSeconds: 1.25, openFDs: 9,
                                        tcp: ["established": 3, "close_wait": 1], appStats: ["requests": 42, "queue_depth": 0.5]),
            ],
            counters: MetricsSnapshot.DaemonCounters(
                controlRequests: [.init(command: "status", result: "ok"): 5, .init(command: "scale", result: "unknown_group"): 1],
                logLinesDropped: 12, logFileLinesDropped: ["/srv/logs/web.log": 3], reloadsRefused: 2))
    }

    @Test func everyFigureHasItsFamilyAndLabels() {
        let text = Self.snapshot().exposition.text
        let expected = [
            #"appd_build_info{version="9.9.9"} 1"#,
            "appd_start_time_seconds 1700000000",
            "appd_reloads_refused_total 2",
            #"appd_control_requests_total{command="scale",result="unknown_group"} 1"#,
            #"appd_control_requests_total{command="status",result="ok"} 5"#,
            "appd_log_lines_dropped_total 12",
            #"appd_log_file_lines_dropped_total{file="/srv/logs/web.log"} 3"#,
            #"appd_group_desired_processes{group="web"} 2"#,
            #"appd_group_running_processes{group="web"} 2"#,
            #"appd_group_ready_processes{group="web"} 1"#,
            #"appd_group_processes{group="web",state="starting"} 1"#,
            #"appd_group_processes{group="web",state="backoff"} 0"#,
            #"appd_group_healthy{group="web"} 0"#,
            #"appd_group_restarts_total{group="web"} 4"#,
            #"appd_group_exits_total{group="web",reason="requested:reload"} 2"#,
            #"appd_group_exits_total{group="web",reason="signal:KILL"} 3"#,
            #"appd_group_spawn_failures_total{group="web"} 1"#,
            #"appd_group_reloads_total{group="web",outcome="aborted"} 1"#,
            #"appd_group_last_reload_duration_seconds{group="web"} 2.5"#,
            #"appd_group_output_lines_dropped_total{group="web"} 7"#,
            #"appd_worker_resident_memory_bytes{group="web",id="0",pid="4711"} 1048576"#,
            #"appd_worker_cpu_seconds_total{group="web",id="0",pid="4711"} 1.25"#,
            #"appd_worker_open_fds{group="web",id="0",pid="4711"} 9"#,
            #"appd_worker_tcp_connections{group="web",id="0",pid="4711",state="close_wait"} 1"#,
            #"appd_worker_tcp_connections{group="web",id="0",pid="4711",state="established"} 3"#,
            #"appd_worker_appstats{group="web",id="0",pid="4711",key="queue_depth"} 0.5"#,
            #"appd_worker_appstats{group="web",id="0",pid="4711",key="requests"} 42"#,
        ]
        let lines = Set(text.split(separator: "\n").map(String.init))
        for line in expected { #expect(lines.contains(line), "missing: \(line)\n\(text)") }
    }

    @Test func countersEndInTotalAndEachFamilyComesOnceBeforeItsSamples() {
        let exposition = Self.snapshot().exposition
        #expect(exposition.families.filter { $0.kind == .counter }.allSatisfy { $0.name.hasSuffix("_total") })
        #expect(Set(exposition.families.map(\.name)).count == exposition.families.count)
        var seen: [String] = []
        for line in exposition.text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            seen.append(String(line.split(separator: " ")[2]))
        }
        #expect(seen.count == Set(seen).count)
        // Samples follow their own TYPE line: the family named by the last TYPE is a prefix of each sample.
        var current = ""
        for line in exposition.text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { current = String(line.split(separator: " ")[2]) }
            if !line.hasPrefix("#") { #expect(line.hasPrefix(current + "{") || line.hasPrefix(current + " "), "\(line) outside \(current)") }
        }
    }

    @Test func aGroupsCountersComeFromTheCoreAndItsStatesFromItsRows() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3, readiness: .notify)])
        h.send(.ready(pid: h.pid("web", 0)!))
        h.send(.ready(pid: h.pid("web", 1)!))
        h.advance(5)  // web#2 misses its readiness deadline: stopped, a failure.
        let group = MetricsSnapshot.Group(h.supervisor.group(named: "web")!, outputLinesDropped: 3)
        #expect(group.desired == 3 && group.ready == 2 && !group.healthy)
        #expect(group.processes[.running] == 2)
        #expect(group.processes.values.reduce(0, +) == 3)
        #expect(group.outputLinesDropped == 3)
        #expect(Set(group.processes.keys) == Set(ProcessStatus.State.allCases))
    }

    @Test func appStatsKeepNumbersAndBooleansFlattenObjectsAndSanitizeKeys() {
        let stats = JSONValue.object([
            "requests": .number(42), "ok": .bool(true), "name": .string("w"), "list": .array([.number(1)]), "nothing": .null,
            "http": .object(["2xx": .number(40), "5xx": .number(2)]), "queue depth": .number(3),
            "a.b": .number(1), "a_b": .number(2),
        ])
        let figures = AppStatsFigures.flatten(stats)
        #expect(figures.map(\.key) == ["a_b", "http_2xx", "http_5xx", "ok", "queue_depth", "requests"])
        #expect(figures.first { $0.key == "a_b" }?.value == 1, "of two keys that sanitize alike, the first in key order counts")
        #expect(figures.first { $0.key == "ok" }?.value == 1)
        #expect(figures.allSatisfy { MetricsExposition.isValidName($0.key) })
    }

    @Test func appStatsAreBoundedInNumberAndDepth() {
        let many = JSONValue.object(Dictionary(uniqueKeysWithValues: (0..<500).map { ("k\($0)", JSONValue.number(Double($0))) }))
        #expect(AppStatsFigures.flatten(many).count == AppStatsFigures.maximumPerProcess)
        var deep = JSONValue.number(1)
        for _ in 0..<20 { deep = .object(["d": deep]) }
        #expect(AppStatsFigures.flatten(deep).isEmpty, "nesting beyond the depth limit is left out")
        #expect(AppStatsFigures.flatten(.object(["a": .object(["b": .object(["c": .number(1)])])])).map(\.key) == ["a_b_c"])
    }
}
