import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// The group's counters metrics read: they only go up, through scale-down
/// and reload, and start afresh only with a group removed and added again.
@Suite struct SupervisorCountersTests {
    @Test func restartsAndExitsByReasonOutliveAScaleDownAndAReload() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3)])
        h.advance(5)
        h.exit(h.pid("web", 2)!, .killed(signal: .kill))
        h.exit(h.pid("web", 2)!, .exited(code: 3))
        var tally = h.supervisor.group(named: "web")!.exits
        #expect(tally.restarts == 2)
        #expect(tally.exitsByReason == ["signal:KILL": 1, "exit:3": 1])

        // Scale down: slots 1 and 2 go with their `restarts`; the group's
        // count stays. (Slot 2 is backing off after its quick exit 3: only
        // slot 1 has a process to stop.)
        h.request(.scale(group: "web", count: 1))
        h.obeySignals()
        #expect(h.supervisor.group(named: "web")!.slots.count == 1)
        tally = h.supervisor.group(named: "web")!.exits
        #expect(tally.restarts == 2)
        #expect(tally.exitsByReason == ["signal:KILL": 1, "exit:3": 1, "requested:scale": 1])

        // A reload with a new config replaces every process; the tally stays.
        h.request(.reload(group: nil, config: SupervisorHarness.config([SupervisorHarness.group("web", count: 2)])))
        for _ in 0..<4 {
            h.obeySignals()
            h.advance(1)
        }
        tally = h.supervisor.group(named: "web")!.exits
        #expect(tally.restarts == 2)
        #expect(tally.exitsByReason["requested:reload"] == 1)
        #expect(tally.exitsByReason.values.reduce(0, +) == tally.exits)
    }

    @Test func exitsAppdStoppedAsFailingCountUnderTheFailure() {
        #expect(ExitTally.reason(of: .killed(signal: .terminate), stopReason: .notReady) == "not-ready")
        #expect(ExitTally.reason(of: .killed(signal: .abort), stopReason: .watchdog) == "watchdog")
        #expect(ExitTally.reason(of: .killed(signal: .terminate), stopReason: .shutdown) == "requested:stop")
        #expect(ExitTally.reason(of: .exited(code: 0), stopReason: .reload) == "requested:reload")
        #expect(ExitTally.reason(of: .exited(code: 0), stopReason: nil) == "exit:0")
    }

    @Test func reloadsAreCountedByOutcomeWithTheLastOnesDuration() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify),
                                   SupervisorHarness.group("q", count: 1, reloadable: false)])
        h.send(.ready(pid: h.pid("web", 0)!))
        h.request(.reload(group: nil, config: nil))
        h.advance(2)
        h.send(.ready(pid: h.successor("web", 0)!))
        h.obeySignals()
        var web = h.supervisor.group(named: "web")!
        #expect(web.reloads == ReloadTally(completed: 1, signalled: 0, aborted: 0))
        #expect(web.lastReload?.duration == 2)
        #expect(h.supervisor.group(named: "q")!.reloads.signalled == 1)
        #expect(h.supervisor.group(named: "q")!.lastReload?.duration == 0)

        // A successor that never gets ready aborts the next one.
        h.request(.reload(group: "web", config: nil))
        h.advance(10)
        web = h.supervisor.group(named: "web")!
        #expect(web.reloads == ReloadTally(completed: 1, signalled: 0, aborted: 1))
        #expect(web.lastReload?.duration == 5, "the readiness timeout of the harness's groups")
    }

    @Test func aGroupRemovedAndAddedAgainStartsAfresh() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1), SupervisorHarness.group("q", count: 1)])
        h.advance(5)
        h.exit(h.pid("q", 0)!, .exited(code: 1))
        #expect(h.supervisor.group(named: "q")!.exits.restarts == 1)
        h.request(.reload(group: nil, config: SupervisorHarness.config([SupervisorHarness.group("web", count: 1)])))
        h.obeySignals()
        #expect(h.supervisor.group(named: "q") == nil)
        h.request(.reload(group: nil, config: SupervisorHarness.config([SupervisorHarness.group("web", count: 1),
                                                                          SupervisorHarness.group("q", count: 1)])))
        #expect(h.supervisor.group(named: "q")!.exits.restarts == 0)
    }

    @Test func aGroupIsHealthyWithItsCountReadyAndNotWhenStoppedOrShort() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2, readiness: .notify),
                                   SupervisorHarness.group("parked", count: 0)])
        #expect(h.supervisor.group(named: "web")!.healthProblem == "web: 0/2 ready (2 starting)")
        #expect(h.supervisor.group(named: "parked")!.healthProblem == nil)
        h.send(.ready(pid: h.pid("web", 0)!))
        h.send(.ready(pid: h.pid("web", 1)!))
        #expect(h.supervisor.health.isHealthy)
        h.request(.stopGroup("web"))
        #expect(h.supervisor.group(named: "web")!.healthProblem == "web is stopped (appctl start web)")
    }
}
