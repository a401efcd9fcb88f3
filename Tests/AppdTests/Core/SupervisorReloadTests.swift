import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// Start-first rolling reload: the successor runs beside the old process
/// until it is ready; a successor that fails never costs the old one.
@Suite struct StartFirstReload {
    @Test func successorStartsBesideTheOldProcessWhichStopsOnlyOnceTheSuccessorIsReady() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify)])
        let old = h.pid("web", 0)!
        h.send(.ready(pid: old))
        h.request(.reload(group: "web", config: nil))
        let successor = h.successor("web", 0)!
        #expect(h.alive == [old, successor])
        #expect(h.signalsSent(to: old).isEmpty, "the old process serves until its successor is ready")
        #expect(h.spawnOrders[successor]?.role == .successor)
        #expect(h.spawnOrders[successor]!.generation > h.spawnOrders[old]!.generation)
        h.send(.ready(pid: successor))
        #expect(h.signalsSent(to: old) == [.terminate])
        #expect(h.pid("web", 0) == successor)
        #expect(h.reloadResult("web") == nil, "the step ends when the old process has exited")
        h.exit(old, .killed(signal: .terminate))
        #expect(h.reloadResult("web") == ReloadResult(outcome: .completed, replaced: 1))
        #expect(h.replacedNotices("web").map(\.newPid) == [successor])
        #expect(h.supervisor.group(named: "web")!.exits.failures.isEmpty, "an exit appd asked for is no failure")
        #expect(h.supervisor.group(named: "web")!.slots[0].lastExit?.stopReason == .reload)
    }

    @Test func slotsAreReplacedOneAtATimeInIdOrder() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3)])
        let old = (0..<3).map { h.pid("web", $0)! }
        h.request(.reload(group: "web", config: nil))
        // readiness none: each successor is ready at once and takes over.
        #expect(h.signalsSent(to: old[0]) == [.terminate])
        #expect(h.signalsSent(to: old[1]).isEmpty && h.signalsSent(to: old[2]).isEmpty)
        #expect(h.alive.count == 4, "count + maxSurge at most")
        h.exit(old[0], .killed(signal: .terminate))
        #expect(h.signalsSent(to: old[1]) == [.terminate] && h.signalsSent(to: old[2]).isEmpty)
        h.exit(old[1], .killed(signal: .terminate))
        h.exit(old[2], .killed(signal: .terminate))
        #expect(Set((0..<3).map { h.pid("web", $0)! }).isDisjoint(with: old))
        #expect(h.reloadResult("web")?.replaced == 3)
        #expect(h.supervisor.group(named: "web")!.slots.allSatisfy { $0.restarts == 0 })
    }

    @Test func maxSurgeReplacesSeveralSlotsAtOnce() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 4, readiness: .notify, maxSurge: 2)])
        for id in 0..<4 { h.send(.ready(pid: h.pid("web", id)!)) }
        h.request(.reload(group: "web", config: nil))
        #expect((0..<4).map { h.successor("web", $0) != nil } == [true, true, false, false])
        #expect(h.alive.count == 6)
    }

    @Test func aSuccessorThatExitsAbortsTheReloadAndTheOldProcessIsNeverTouched() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2, readiness: .notify)])
        for id in 0..<2 { h.send(.ready(pid: h.pid("web", id)!)) }
        h.advance(5)
        let old = (0..<2).map { h.pid("web", $0)! }
        var broken = SupervisorHarness.group("web", count: 2, readiness: .notify)
        broken.command = ["/srv/broken-release"]
        h.request(.reload(group: nil, config: SupervisorHarness.config([broken])))
        let successor = h.successor("web", 0)!
        h.exit(successor, .exited(code: 1))
        guard case .aborted(let reason) = h.reloadResult("web")?.outcome else {
            Issue.record("expected an aborted reload, got \(h.notices)")
            return
        }
        #expect(reason.contains("web#0[\(successor)] exited 1"))
        #expect(h.alive == Set(old))
        #expect(old.allSatisfy { h.signalsSent(to: $0).isEmpty })
        let group = h.supervisor.group(named: "web")!
        #expect(group.degradedReason == reason)
        #expect(group.config.command == ["/bin/true"], "settings roll back to the release that worked")
        #expect(group.exits.failures.map(\.kind) == [.status(.exited(code: 1))])
        // A crash of an old process later respawns the old release.
        h.exit(old[1], .killed(signal: .kill))
        #expect(h.spawnOrders[h.pid("web", 1)!]?.config.command == ["/bin/true"])
        // A later reload that completes clears the degraded state.
        h.request(.reload(group: "web", config: nil))
        for _ in 0..<4 {
            for id in 0..<2 { if let s = h.successor("web", id) { h.send(.ready(pid: s)) } }
            h.obeySignals()
        }
        #expect(h.reloadResult("web")?.outcome == .completed)
        #expect(h.supervisor.group(named: "web")!.degradedReason == nil)
    }

    @Test func aSuccessorThatIsNeverReadyIsStoppedAndTheOldProcessKeepsServing() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify)])
        let old = h.pid("web", 0)!
        h.send(.ready(pid: old))
        h.request(.reload(group: "web", config: nil))
        let stuck = h.successor("web", 0)!
        h.advance(5.1)
        #expect(h.signalsSent(to: stuck) == [.terminate])
        #expect(h.signalsSent(to: old).isEmpty)
        guard case .aborted(let reason) = h.reloadResult("web")?.outcome else {
            Issue.record("expected an aborted reload")
            return
        }
        #expect(reason.contains("was not ready within 5s"))
        h.exit(stuck, .killed(signal: .terminate))
        #expect(h.alive == [old], "nothing replaces a failed successor")
        #expect(h.supervisor.group(named: "web")!.exits.failures.map(\.kind) == [.notReady])
    }

    @Test func whenTheOldProcessDiesDuringTheOverlapItsSuccessorTakesTheSlot() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify)])
        let old = h.pid("web", 0)!
        h.send(.ready(pid: old))
        h.request(.reload(group: "web", config: nil))
        let successor = h.successor("web", 0)!
        h.exit(old, .exited(code: 139))
        #expect(h.pid("web", 0) == successor)
        #expect(h.alive == [successor], "no extra process is spawned")
        h.send(.ready(pid: successor))
        #expect(h.reloadResult("web")?.outcome == .completed)
        #expect(h.replacedNotices("web").map(\.oldPid) == [old])
    }

    @Test func aNewProcessThatDiesRightAfterTakingOverAbortsTheReload() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2, readiness: .notify)])
        for id in 0..<2 { h.send(.ready(pid: h.pid("web", id)!)) }
        let old1 = h.pid("web", 1)!
        h.request(.reload(group: "web", config: nil))
        let successor = h.successor("web", 0)!
        h.send(.ready(pid: successor))
        h.exit(successor, .killed(signal: UnixSignal(number: 11)))
        guard case .aborted(let reason) = h.reloadResult("web")?.outcome else {
            Issue.record("expected an aborted reload")
            return
        }
        #expect(reason.contains("right after it took over"))
        #expect(h.signalsSent(to: old1).isEmpty)
    }

    @Test func stopDuringOverlapStopsBothProcessesAndAnswersTheReloadOnce() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify)])
        let old = h.pid("web", 0)!
        h.send(.ready(pid: old))
        h.request(.reload(group: "web", config: nil))
        let successor = h.successor("web", 0)!
        h.request(.stopDaemon)
        #expect(h.signalsSent(to: old) == [.terminate] && h.signalsSent(to: successor) == [.terminate])
        h.obeySignals()
        #expect(h.exitCode == 0)
        #expect(h.notices.filter { if case .reloadFinished = $0 { return true } else { return false } }.count == 1)
    }
}

/// Stop-first (Workerman's order), for programs that cannot run twice.
@Suite struct StopFirstReload {
    static func web(_ count: Int, readiness: Readiness = .none) -> GroupConfig {
        SupervisorHarness.group("web", count: count, readiness: readiness, strategy: .stopFirst)
    }

    @Test func stopsTheOldProcessThenStartsTheNextOneAtATime() {
        var h = SupervisorHarness([Self.web(3)])
        let old = (0..<3).map { h.pid("web", $0)! }
        h.request(.reload(group: "web", config: nil))
        #expect(h.signalsSent(to: old[0]) == [.terminate])
        #expect(h.alive.count == 3, "no overlap")
        h.exit(old[0], .killed(signal: .terminate))
        #expect(h.signalsSent(to: old[1]) == [.terminate])
        h.exit(old[1], .killed(signal: .terminate))
        h.exit(old[2], .killed(signal: .terminate))
        #expect(Set((0..<3).map { h.pid("web", $0)! }).isDisjoint(with: old))
        #expect(h.reloadResult("web") == ReloadResult(outcome: .completed, replaced: 3))
    }

    @Test func notifyReadinessGatesTheNextStep() {
        var h = SupervisorHarness([Self.web(2, readiness: .notify)])
        for id in 0..<2 { h.send(.ready(pid: h.pid("web", id)!)) }
        let old1 = h.pid("web", 1)!
        h.request(.reload(group: nil, config: nil))
        h.exit(h.pid("web", 0)!, .killed(signal: .terminate))
        #expect(h.signalsSent(to: old1).isEmpty, "slot 1 waits for slot 0's replacement to be ready")
        h.send(.ready(pid: h.pid("web", 0)!))
        #expect(h.signalsSent(to: old1) == [.terminate])
    }

    @Test func aReplacementThatDiesAbortsAndLeavesTheRestServing() {
        var h = SupervisorHarness([Self.web(3, readiness: .notify)])
        for id in 0..<3 { h.send(.ready(pid: h.pid("web", id)!)) }
        let old = (0..<3).map { h.pid("web", $0)! }
        h.request(.reload(group: "web", config: nil))
        h.exit(old[0], .killed(signal: .terminate))
        h.exit(h.pid("web", 0)!, .exited(code: 1))
        guard case .aborted(let reason) = h.reloadResult("web")?.outcome else {
            Issue.record("expected an aborted reload, got \(h.notices)")
            return
        }
        #expect(reason.contains("exited 1") && reason.contains("before it was ready"))
        #expect(h.pid("web", 1) == old[1] && h.pid("web", 2) == old[2])
        #expect(h.signalsSent(to: old[1]).isEmpty && h.signalsSent(to: old[2]).isEmpty)
    }

    @Test func aProcessCrashingBeforeItsTurnComesBackCurrentAndIsSkipped() {
        var h = SupervisorHarness([Self.web(3)])
        h.advance(5)
        let old = (0..<3).map { h.pid("web", $0)! }
        h.request(.reload(group: nil, config: nil))
        h.exit(old[2], .killed(signal: .kill))
        let respawned2 = h.pid("web", 2)!
        h.obeySignals()
        h.obeySignals()
        #expect(h.pid("web", 2) == respawned2)
        #expect(h.reloadResult("web")?.replaced == 2)
    }
}

/// What a reload and the restart backoff, scale and config changes say to each other.
@Suite struct ReloadAndItsSurroundings {
    @Test func aReloadStartsASlotThatIsBackingOffAtOnceAndSaysSo() {
        var h = SupervisorHarness([SupervisorHarness.group("flaky", count: 1)])
        h.crashQuickly("flaky", times: 7)
        guard case .backingOff = h.state("flaky", 0) else { Issue.record("expected a backoff"); return }
        h.request(.reload(group: "flaky", config: nil))
        let started = h.pid("flaky", 0)
        #expect(started != nil, "started now, not after the backoff")
        #expect(h.reloadResult("flaky") == ReloadResult(outcome: .completed, replaced: 0, started: 1))
        #expect(h.replacedNotices("flaky").map(\.oldPid) == [nil])
    }

    @Test func aHealthyProcessStoppedByAReloadEndsTheFailureStreak() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1)])
        h.crashQuickly("web", times: 10)
        if case .backingOff(let until) = h.state("web", 0) { h.advance(until.seconds(since: h.now)) }
        #expect(h.supervisor.group(named: "web")!.slots[0].consecutiveFailures == 10)
        h.advance(24)
        let old = h.pid("web", 0)!
        h.request(.reload(group: "web", config: nil))
        h.exit(old, .killed(signal: .terminate))
        // The new release fails once: a short backoff, not the 30 s of an old streak.
        h.exit(h.pid("web", 0)!, .exited(code: 1))
        guard case .backingOff(let until) = h.state("web", 0) else { Issue.record("expected a backoff"); return }
        #expect(until.seconds(since: h.now) <= 0.1)
    }

    @Test func aCountTheConfigChangesIsNotedInTheReload() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1)])
        h.request(.scale(group: "web", count: 4))
        h.request(.reload(group: nil, config: SupervisorHarness.config([SupervisorHarness.group("web", count: 1)])))
        h.obeySignals()
        #expect(h.reloadResult("web")?.notes.contains("count 4 → 1 from the config") == true)
    }

    @Test func aNonReloadableGroupGetsUSR1AndIsToldWhenOnlyARestartAppliesItsNewCommand() {
        var h = SupervisorHarness([SupervisorHarness.group("queue", count: 2, reloadable: false)])
        let pids = (0..<2).map { h.pid("queue", $0)! }
        var changed = SupervisorHarness.group("queue", count: 2, reloadable: false)
        changed.command = ["/srv/new-queue"]
        h.request(.reload(group: nil, config: SupervisorHarness.config([changed])))
        #expect(pids.allSatisfy { h.signalsSent(to: $0) == [.user1] })
        #expect((0..<2).map { h.pid("queue", $0)! } == pids)
        let result = h.reloadResult("queue")
        #expect(result?.outcome == .signalled(processes: 2))
        #expect(result?.notes.contains { $0.contains("appctl restart queue") } == true)
    }

    @Test func reloadAppliesANewConfigAndReportsEveryGroupOnce() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2), SupervisorHarness.group("old", count: 1)])
        var web = SupervisorHarness.group("web", count: 3)
        web.env = ["MODE": "new"]
        let config = SupervisorHarness.config([web, SupervisorHarness.group("fresh", count: 2)])
        #expect(h.request(.reload(group: nil, config: config)) == nil)
        #expect(h.notices.first { if case .reloadBegan = $0 { true } else { false } } == .reloadBegan(groups: ["web", "fresh"]))
        #expect(h.supervisor.group(named: "fresh")?.liveProcesses.count == 2)
        #expect(h.pid("web", 2) != nil)
        for _ in 0..<4 { h.obeySignals() }
        #expect(h.supervisor.group(named: "old") == nil)
        #expect(h.supervisor.group(named: "web")!.config.env["MODE"] == "new")
        #expect(h.reloadResult("web")?.replaced == 2, "the slot the new count added started current")
        #expect(h.reloadResult("fresh")?.notes == ["new group"])
        #expect(h.alive.count == 5)
    }

    @Test func reloadMidReloadIsRefusedAsBusy() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2, readiness: .notify), SupervisorHarness.group("queue", count: 1)])
        h.request(.reload(group: "web", config: nil))
        #expect(h.request(.reload(group: "web", config: nil)) == .reloadInProgress(group: "web"))
        #expect(h.request(.reload(group: nil, config: nil)) == .reloadInProgress(group: "web"))
        #expect(h.request(.reload(group: "queue", config: nil)) == nil)
    }
}

/// WATCHDOG=1: a ready process that stops pinging is hung.
@Suite struct CoreWatchdog {
    @Test func aProcessThatStopsPingingGetsSIGABRTThenSIGKILLAndIsReplaced() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, stopTimeout: 2, watchdogSeconds: 3)])
        let pid = h.pid("web", 0)!
        for _ in 0..<5 {
            h.advance(2)
            h.send(.watchdog(pid: pid))
        }
        #expect(h.signalsSent(to: pid).isEmpty, "pings keep it alive")
        h.advance(3.1)
        #expect(h.signalsSent(to: pid) == [.abort])
        #expect(h.logs.contains { $0.contains("sent no WATCHDOG=1 for 3s") })
        h.advance(2)
        #expect(h.signalsSent(to: pid) == [.abort, .kill])
        h.exit(pid, .killed(signal: .kill))
        #expect(h.pid("web", 0) != nil && h.pid("web", 0) != pid, "replaced at once: it had been healthy")
        #expect(h.supervisor.group(named: "web")!.exits.failures.map(\.kind) == [.watchdog])
        #expect(h.supervisor.group(named: "web")!.slots[0].restarts == 1)
    }

    @Test func theWatchdogStartsWhenTheProcessIsReady() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1, readiness: .notify, watchdogSeconds: 1)])
        let pid = h.pid("web", 0)!
        h.advance(3)
        #expect(h.signalsSent(to: pid).isEmpty)
        h.send(.ready(pid: pid))
        h.advance(1.1)
        #expect(h.signalsSent(to: pid) == [.abort])
    }
}

extension SupervisorHarness {
    /// The slot's process dies at once, `times` times in a row, each
    /// replacement started when its backoff ends; leaves the slot backing off.
    mutating func crashQuickly(_ group: String, times: Int) {
        for round in 0..<times {
            if round > 0, case .backingOff(let until) = state(group, 0) { advance(until.seconds(since: now)) }
            guard let pid = pid(group, 0) else { return }
            exit(pid, .exited(code: 3))
        }
    }
}

/// OTP's restart intensity over a whole group: a storm of healthy-looking
/// restarts is spread out instead of being respawned as fast as it dies.
@Suite struct GroupRestartIntensity {
    @Test func theWindowNeverHoldsMoreThanTheLimit() {
        var intensity = RestartIntensity()
        let start = MonotonicInstant(seconds: 100)
        let times = (0..<25).map { _ in intensity.schedule(earliest: start, limit: 10) }
        #expect(times.prefix(10).allSatisfy { $0 == start })
        #expect(times[10] == start.adding(seconds: 10) && times[19] == start.adding(seconds: 10))
        #expect(times[20] == start.adding(seconds: 20))
        #expect(intensity.recent.count == 10, "memory stays bounded by the limit")
    }

    @Test func aStormOfProcessesThatLiveJustOverASecondIsHeldBack() {
        var h = SupervisorHarness([SupervisorHarness.group("storm", count: 5)])
        var restartedAtOnce = 0
        for _ in 0..<4 {
            h.advance(1.05)
            for id in 0..<5 {
                guard let pid = h.pid("storm", id) else { continue }
                h.exit(pid, .exited(code: 0))
                if h.pid("storm", id) != nil { restartedAtOnce += 1 }
            }
        }
        #expect(restartedAtOnce == 10, "twice the count restarts at once within the window, then the group waits")
        #expect(h.logs.filter { $0.contains("group storm restarts too often") }.count == 1, "said once per storm")
        #expect(h.supervisor.group(named: "storm")!.restartsHeldUntil != nil)
        #expect(h.supervisor.group(named: "storm")!.problems.contains("restarts held back: the group restarts too often"))
        h.advance(15)
        #expect((0..<5).allSatisfy { h.pid("storm", $0) != nil }, "every slot runs again once the window has room")
        #expect(h.supervisor.group(named: "storm")!.problems.isEmpty, "the storm is over")
    }
}

@Suite struct OutputBudgetTests {
    @Test func linesBeyondTheBudgetAreDroppedAndCountedInTheNextKeptOne() {
        let start = MonotonicInstant(seconds: 50)
        var budget = OutputBudget(worker: WorkerRef(group: "web", id: 0), pid: 1, bytesPerSecond: 2560, now: start)
        // Ten lines of 10 bytes cost 256 each, the least a line costs.
        #expect((0..<10).map { _ in budget.admit(bytes: 10, now: start) } == Array(repeating: .keep, count: 10))
        #expect(budget.admit(bytes: 10, now: start) == .drop)
        #expect(budget.admit(bytes: 10, now: start) == .drop)
        #expect(budget.admit(bytes: 10, now: start.adding(seconds: 0.1)) == .keepAfterDropping(2))
        #expect(budget.admit(bytes: 5000, now: start.adding(seconds: 60)) == .drop, "never more than one second's worth at once")
        #expect(budget.takeDropped() == 1 && budget.takeDropped() == 0)
    }
}
