import Foundation
@testable import DaemonShell
@testable import SupervisorCore
import Shared
import Testing

/// The daemon's log counts in English: "1 process", "2 processes".
@Suite struct SupervisorLogWordingTests {
    @Test func theLogCountsInEnglish() {
        var h = SupervisorHarness([
            SupervisorHarness.group("web", count: 1), SupervisorHarness.group("queue", count: 1, reloadable: false),
        ])
        h.request(.reload(group: nil, config: nil))
        h.advance(0.1)
        h.obeySignals()
        #expect(h.logs.contains("group queue is not reloadable: sent SIGUSR1 to 1 process"), "\(h.logs)")
        #expect(h.logs.contains("rolling reload of group web done: 1 process replaced"), "\(h.logs)")
        h.exit(h.pid("web", 0)!, .exited(code: 3))
        #expect(h.logs.last?.hasSuffix("(backoff after a quick exit)") == true, "\(h.logs)")
        h.advance(0.2)
        h.exit(h.pid("web", 0)!, .exited(code: 3))
        #expect(h.logs.last?.hasSuffix("(backoff after 2 quick exits in a row)") == true, "\(h.logs)")
        for line in h.logs {
            #expect(line.range(of: #"\b1 (processes|groups|slots|exits)\b"#, options: .regularExpression) == nil, "\(line)")
        }
    }
}

/// What the core says about a worker names it (and its process, when one
/// ran), so the shell can put the line in that group's history; the text
/// spells the worker one way, `web#0[4711]`.
@Suite struct SupervisorWorkerRecordTests {
    @Test func recordsAboutAWorkerNameItAndItsProcess() throws {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify, watchdogSeconds: 3)])
        let first = try #require(h.pid("web", 0))
        h.send(.ready(pid: first))
        h.exit(first, .exited(code: 3))
        let web0 = WorkerRef(group: "web", id: 0)
        let about = h.records.filter { $0.worker == web0 }
        #expect(about.map(\.message) == ["started", "is ready", "exited 3 after 0s", "restarts in 0.1s (backoff after a quick exit)"],
                "\(h.records)")
        #expect(about.map(\.pid) == [first, first, first, nil])
        #expect(about[2].text == "worker web#0[\(first)] exited 3 after 0s" && about[2].level == .warning)
        #expect(about[3].text == "worker web#0 restarts in 0.1s (backoff after a quick exit)")

        h.advance(0.1)
        let second = try #require(h.pid("web", 0))
        h.send(.ready(pid: second))
        h.advance(3)
        let hung = try #require(h.records.last)
        #expect(hung.worker == web0 && hung.pid == second && hung.message == "sent no WATCHDOG=1 for 3s: hung; sending SIGABRT", "\(hung)")
        #expect(h.records.filter { $0.worker == nil }.isEmpty, "every line here is about the worker: \(h.records)")
    }
}
