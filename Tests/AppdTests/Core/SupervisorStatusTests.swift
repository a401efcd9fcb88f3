@testable import DaemonShell
@testable import SupervisorCore
import Shared
import Testing

/// What the core tells `status` about a group and a slot: ready, starting
/// and backing-off processes counted apart, why the group is in trouble,
/// and which exits appd asked for.
@Suite struct SupervisorStatusTests {
    @Test func startingProcessesAreCountedApartFromReadyOnes() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3, readiness: .notify)])
        var web: WorkerGroup { h.supervisor.group(named: "web")! }
        #expect(web.readyCount == 0 && web.startingCount == 3 && web.backingOffCount == 0)
        #expect(web.problems.isEmpty, "starting is not a problem")
        h.send(.ready(pid: h.pid("web", 0)!))
        h.send(.ready(pid: h.pid("web", 1)!))
        #expect(web.readyCount == 2 && web.startingCount == 1)
    }

    @Test func processesBackingOffAreAProblemWithTheirLastExit() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 4)])
        var web: WorkerGroup { h.supervisor.group(named: "web")! }
        h.exit(h.pid("web", 1)!, .exited(code: 3))  // at once: a quick death, backs off
        #expect(web.backingOffCount == 1 && web.readyCount == 3)
        #expect(web.problems == ["1 of 4 processes is waiting to restart after failing (last: exited 3)"])
        h.now = h.now.adding(seconds: 0.01)
        h.exit(h.pid("web", 2)!, .killed(signal: .kill))
        #expect(web.problems == ["2 of 4 processes are waiting to restart after failing (last: killed by SIGKILL)"])

        var single = SupervisorHarness([SupervisorHarness.group("cron", count: 1)])
        single.failingSpawns = [WorkerRef(group: "cron", id: 0)]
        single.exit(single.pid("cron", 0)!, .exited(code: 1))
        single.advance(1)  // the respawn fails to exec
        #expect(single.supervisor.group(named: "cron")!.problems
            == ["its process is waiting to restart after failing (last: failed to start: execve: No such file or directory)"])
    }

    @Test func aFailedReloadIsAProblemUntilOneCompletes() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify)])
        h.send(.ready(pid: h.pid("web", 0)!))
        h.request(.reload(group: "web", config: nil))
        h.advance(6)  // the successor misses its 5 s readiness deadline
        h.obeySignals()
        let problems = h.supervisor.group(named: "web")!.problems
        #expect(problems.count == 1 && problems[0].hasPrefix("the last reload failed: the successor web#0["), "\(problems)")
    }

    @Test func exitsAppdAskedForSayWhy() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3)])
        func lastStop(_ id: Int) -> StopReason? { h.supervisor.group(named: "web")?.slots[id].lastExit?.stopReason }
        h.request(.scale(group: "web", count: 2))
        let outgoing = h.signals.map(\.pid)
        #expect(outgoing.count == 1)
        #expect(h.supervisor.group(named: "web")?.slots[2][.current]?.stopOrder?.reason == .scaledDown)
        h.obeySignals()
        h.signals = []
        h.request(.restart(group: "web"))
        h.obeySignals()
        #expect(lastStop(0) == .restart && lastStop(1) == .restart)
        #expect(StopReason.restart.key == "restart" && StopReason.scaledDown.key == "scale" && StopReason.reload.key == "reload")
        #expect(StopReason.shutdown.key == "stop" && StopReason.notReady.key == "notReady" && StopReason.watchdog.key == "watchdog")
    }
}

/// The last reload of each group, remembered for `describe`.
@Suite struct SupervisorLastReloadTests {
    @Test func eachGroupRemembersHowItsLastReloadEndedAndWhen() {
        var h = SupervisorHarness([
            SupervisorHarness.group("web", count: 1, readiness: .notify), SupervisorHarness.group("q", count: 1, reloadable: false),
        ])
        h.send(.ready(pid: h.pid("web", 0)!))
        #expect(h.supervisor.group(named: "web")?.lastReload == nil)
        let asked = h.now
        h.request(.reload(group: nil, config: nil))
        #expect(h.supervisor.group(named: "q")?.lastReload == FinishedReload(at: asked, result: ReloadResult(outcome: .signalled(processes: 1)), duration: 0))
        h.advance(1)
        h.send(.ready(pid: h.successor("web", 0)!))
        h.obeySignals()
        let completed = h.supervisor.group(named: "web")?.lastReload
        #expect(completed?.at == asked.adding(seconds: 1) && completed?.result.outcome == .completed && completed?.result.replaced == 1)

        // The next one fails: that is what is remembered now.
        h.request(.reload(group: "web", config: nil))
        h.advance(6)
        let aborted = h.supervisor.group(named: "web")?.lastReload
        guard case .aborted(let reason)? = aborted?.result.outcome else {
            Issue.record("not aborted: \(String(describing: aborted))")
            return
        }
        #expect(reason.contains("was not ready within 5s"), "\(reason)")
        #expect(aborted?.at == asked.adding(seconds: 1 + 5))
    }
}
