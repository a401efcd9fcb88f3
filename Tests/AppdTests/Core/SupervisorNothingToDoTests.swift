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

    @Test func scalingToTheCountTheGroupHasIsRefusedAndChangesNothing() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 4)])
        let before = (0..<4).map { h.pid("web", $0) }
        let logged = h.logs.count
        #expect(h.request(.scale(group: "web", count: 4)) == .alreadyAtCount(group: "web", count: 4))
        #expect((0..<4).map { h.pid("web", $0) } == before && h.signals.isEmpty)
        #expect(h.logs.count == logged, "nothing logged as scaled: \(h.logs.suffix(from: logged))")
        #expect(RequestRejection.alreadyAtCount(group: "web", count: 4).description
            == "group 'web' is already scaled to 4 processes; nothing was scaled")
        #expect(RequestRejection.alreadyAtCount(group: "web", count: 1).description.contains("scaled to 1 process;"))
        // A count out of range is that, first.
        #expect(h.request(.scale(group: "web", count: -1)) == .invalidCount(-1))
        // Scaled down, with the processes beyond still on their way out: the
        // count is what was asked, so asking again changes nothing.
        #expect(h.request(.scale(group: "web", count: 2)) == nil)
        #expect(h.request(.scale(group: "web", count: 2)) == .alreadyAtCount(group: "web", count: 2))
        h.obeySignals()
        // A stopped group keeps its count: the same one changes nothing, another is taken.
        h.request(.stopGroup("web"))
        h.obeySignals()
        #expect(h.request(.scale(group: "web", count: 2)) == .alreadyAtCount(group: "web", count: 2))
        #expect(h.request(.scale(group: "web", count: 3)) == nil)
        #expect(h.supervisor.group(named: "web")?.config.count == 3)
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
