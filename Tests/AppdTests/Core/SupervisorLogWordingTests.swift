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
