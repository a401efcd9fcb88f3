@testable import DaemonShell
@testable import SupervisorCore
import Shared
import Testing

/// Requests that would change nothing are refused, before anything
/// changes, so appctl can say so (exit 1) instead of claiming success.
@Suite struct SupervisorNothingToDoTests {
    @Test func startingARunningGroupIsRefusedAndChangesNothing() {
        var h = SupervisorHarness([SupervisorHarness.group("queue", count: 2)])
        let before = (0..<2).map { h.pid("queue", $0) }
        #expect(h.request(.startGroup("queue")) == .alreadyRunning("queue"))
        #expect((0..<2).map { h.pid("queue", $0) } == before && h.signals.isEmpty)
        #expect(RequestRejection.alreadyRunning("queue").description.contains("`appctl restart queue`"))
        // Stopping: a start overtakes the stop, as before.
        h.request(.stopGroup("queue"))
        #expect(h.request(.startGroup("queue")) == nil)
    }

    @Test func stoppingAStoppedGroupIsRefusedOnceItsProcessesAreGone() {
        var h = SupervisorHarness([SupervisorHarness.group("queue", count: 1, stopTimeout: 5)])
        #expect(h.request(.stopGroup("queue")) == nil)
        // Still stopping: a second stop waits with the first.
        #expect(h.request(.stopGroup("queue")) == nil)
        h.obeySignals()
        #expect(h.supervisor.group(named: "queue")!.isQuiet)
        #expect(h.request(.stopGroup("queue")) == .alreadyStopped("queue"))
    }

    @Test func signallingNoProcessIsRefused() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2), SupervisorHarness.group("cron", count: 1)])
        h.request(.stopGroup("cron"))
        h.obeySignals()
        h.signals = []
        #expect(h.request(.signal(group: "cron", .hangup)) == .noProcesses(group: "cron"))
        #expect(h.signals.isEmpty)
        #expect(RequestRejection.noProcesses(group: "cron").description == "no processes to signal: group 'cron' has no running process")
        // Every group: the ones with processes get it.
        #expect(h.request(.signal(group: nil, .user1)) == nil)
        #expect(h.signals.count == 2)
        h.request(.stopGroup("web"))
        h.obeySignals()
        #expect(h.request(.signal(group: nil, .user1)) == .noProcesses(group: nil))
    }

    @Test func signalZeroReachesEveryProcessAndIsLoggedInTheSingular() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1)])
        let pid = h.pid("web", 0)!
        #expect(h.request(.signal(group: "web", .existenceCheck)) == nil)
        #expect(h.signalsSent(to: pid) == [.existenceCheck])
        #expect(h.logs.last == "sending signal 0 to 1 process of group web, as asked")
    }
}
