import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

@Suite struct SupervisorStartAndRespawn {
    @Test func startSpawnsCountProcessesWithIdsFromZero() {
        let h = SupervisorHarness([.init(name: "web", command: ["w"], count: 3)])
        #expect(h.alive.count == 3)
        #expect((0..<3).allSatisfy { h.pid("web", $0) != nil })
        #expect(Set((0..<3).compactMap { h.pid("web", $0) }).count == 3)
    }

    @Test func killedHealthyProcessIsReplacedAtOnceInTheSameSlot() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2)])
        h.advance(5)
        let old = h.pid("web", 1)!
        h.exit(old, .killed(signal: .kill))
        let new = h.pid("web", 1)!
        #expect(new != old)
        #expect(h.supervisor.group(named: "web")!.slots[1].restarts == 1)
        #expect(h.supervisor.group(named: "web")!.exits.failures.map(\.kind) == [.status(.killed(signal: .kill))])
        #expect(h.logs.contains { $0.contains("worker web#1[\(old)] killed by SIGKILL") })
    }

    @Test func quickDeathsBackOffDoublingThenResetAfterAStableRun() {
        var h = SupervisorHarness([SupervisorHarness.group("job", count: 1)])
        var delays: [Double] = []
        for _ in 0..<5 {
            let pid = h.pid("job", 0)!
            h.advance(0.01)
            h.exit(pid, .exited(code: 3))
            guard case .backingOff(let until) = h.state("job", 0) else {
                Issue.record("expected backoff, got \(String(describing: h.state("job", 0)))")
                return
            }
            delays.append((until.seconds - h.now.seconds * 1).rounded(toPlaces: 3))
            h.advance(until.seconds(since: h.now))
        }
        #expect(delays == [0.1, 0.2, 0.4, 0.8, 1.6])
        #expect(h.supervisor.group(named: "job")!.exits.failures.first?.count == 5)
        // A run longer than stableUptime resets the backoff: next death respawns at once.
        let pid = h.pid("job", 0)!
        h.advance(3)
        h.exit(pid, .exited(code: 3))
        #expect(h.pid("job", 0) != nil)
        #expect(h.supervisor.group(named: "job")!.slots[0].consecutiveFailures == 0)
    }

    @Test func twoChildrenExitingInTheSameReapAreBothReplaced() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3)])
        h.advance(5)
        let (a, b) = (h.pid("web", 0)!, h.pid("web", 2)!)
        h.exit(a, .killed(signal: .kill))
        h.exit(b, .exited(code: 1))
        #expect(h.pid("web", 0).map { $0 != a } == true)
        #expect(h.pid("web", 2).map { $0 != b } == true)
        #expect(h.alive.count == 3)
    }

    @Test func spawnFailureBacksOffAndIsReported() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1)])
        h.failingSpawns = [WorkerRef(group: "web", id: 0)]
        h.exit(h.pid("web", 0)!, .exited(code: 1))
        h.advance(0.1)  // the first backoff ends; the respawn fails
        guard case .backingOff = h.state("web", 0) else {
            Issue.record("a failed spawn must back off, got \(String(describing: h.state("web", 0)))")
            return
        }
        #expect(h.supervisor.group(named: "web")!.slots[0].lastExit?.description.contains("failed to start") == true)
        #expect(h.supervisor.group(named: "web")!.slots[0].consecutiveFailures == 2)
        h.failingSpawns = []
        h.advance(10)
        #expect(h.pid("web", 0) != nil)
    }

    @Test func grandchildExitIsReapedAndIgnored() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1)])
        h.send(.childExited(pid: 99_999, status: .exited(code: 0)))
        #expect(h.alive.count == 1)
        #expect(h.supervisor.group(named: "web")!.exits.exits == 0)
    }
}

@Suite struct SupervisorStop {
    @Test func stopSendsStopSignalThenKillAfterTimeoutAndExitsOnce() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2, stopTimeout: 2)])
        let (a, b) = (h.pid("web", 0)!, h.pid("web", 1)!)
        h.request(.stopDaemon)
        #expect(h.signalsSent(to: a) == [.terminate])
        #expect(h.signalsSent(to: b) == [.terminate])
        h.exit(a, .killed(signal: .terminate))
        #expect(h.exitCode == nil)
        h.advance(1.9)
        #expect(h.signalsSent(to: b) == [.terminate])
        h.advance(0.2)
        #expect(h.signalsSent(to: b) == [.terminate, .kill])
        h.exit(b, .killed(signal: .kill))
        #expect(h.exitCode == 0)
        #expect(h.supervisor.group(named: "web")!.slots[1].lastExit?.description
                == "killed by SIGKILL (sent by appd after stopTimeout 2s)")
        #expect(h.alive.isEmpty)
        #expect(h.violations.isEmpty)
    }

    @Test func stopWhileBackingOffExitsWithoutSpawning() {
        var h = SupervisorHarness([SupervisorHarness.group("job", count: 1)])
        h.exit(h.pid("job", 0)!, .exited(code: 3))
        guard case .backingOff = h.state("job", 0) else { Issue.record("expected backoff"); return }
        h.request(.stopDaemon)
        #expect(h.exitCode == 0)
        h.advance(60)
        #expect(h.alive.isEmpty)
    }

    @Test func stopMidReloadAbortsTheReloadAndStopsEverything() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 3)])
        h.advance(5)
        h.request(.reload(group: nil, config: nil))
        h.obeySignals()
        h.request(.stopDaemon)
        #expect(h.reloadResult("web")?.outcome == .aborted(reason: "the daemon is stopping"))
        h.obeySignals()
        #expect(h.exitCode == 0)
        #expect(h.alive.isEmpty)
        #expect(h.violations.isEmpty)
    }

    @Test func requestsAfterStopAreRefused() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 1)])
        h.request(.stopDaemon)
        #expect(h.request(.reload(group: nil, config: nil)) == .daemonStopping)
        #expect(h.request(.stopDaemon) == nil)
    }

    @Test func stopGroupThenStartGroup() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2), SupervisorHarness.group("queue", count: 1)])
        h.request(.stopGroup("web"))
        h.obeySignals()
        #expect(h.notices.contains(.groupStopped("web")))
        #expect(h.state("web", 0) == .empty && h.state("web", 1) == .empty)
        #expect(h.pid("queue", 0) != nil)
        h.advance(60)
        #expect(h.alive.count == 1)
        h.request(.startGroup("web"))
        #expect(h.alive.count == 3)
        #expect(h.request(.startGroup("nope")) == .unknownGroup("nope"))
    }
}

@Suite struct SupervisorScaleRestartSignal {
    @Test func scaleDownStopsHighestIdsAndScaleUpReusesThem() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 4)])
        let keep = (0..<2).map { h.pid("web", $0)! }
        let drop = (2..<4).map { h.pid("web", $0)! }
        h.request(.scale(group: "web", count: 2))
        #expect(drop.allSatisfy { h.signalsSent(to: $0) == [.terminate] })
        h.obeySignals()
        #expect(h.supervisor.group(named: "web")!.slots.count == 2)
        #expect((0..<2).map { h.pid("web", $0)! } == keep)
        h.request(.scale(group: "web", count: 3))
        #expect(h.pid("web", 2) != nil)
        #expect(h.request(.scale(group: "web", count: -1)) == .invalidCount(-1))
    }

    @Test func restartReplacesEveryProcessAtOnceWithoutCountingRestarts() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2)])
        let old = (0..<2).map { h.pid("web", $0)! }
        h.request(.restart(group: "web"))
        #expect(old.allSatisfy { h.signalsSent(to: $0) == [.terminate] })
        h.obeySignals()
        #expect((0..<2).allSatisfy { h.pid("web", $0) != nil && !old.contains(h.pid("web", $0)!) })
        #expect(h.supervisor.group(named: "web")!.slots.allSatisfy { $0.restarts == 0 })
    }

    @Test func signalReachesEveryProcessOfTheGroup() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2), SupervisorHarness.group("q", count: 1)])
        h.request(.signal(group: "web", .hangup))
        #expect(h.signals.count == 2 && h.signals.allSatisfy { $0.signal == .hangup })
        #expect(h.request(.signal(group: "x", .hangup)) == .unknownGroup("x"))
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}

@Suite struct ExitTallyTests {
    @Test func failuresLeaveOutCleanAndRequestedExitsAndPutTheMostFrequentFirst() {
        var tally = ExitTally()
        for failure: FailureKind? in [nil, .status(.exited(code: 3)), .watchdog, .status(.exited(code: 3)), nil] {
            tally.recordExit(failure: failure, reason: failure?.key ?? "exit:0")
        }
        tally.recordSpawnFailure()
        #expect(tally.exits == 5)
        #expect(tally.failures.map(\.kind) == [.status(.exited(code: 3)), .spawnFailed, .watchdog])
        #expect(tally.failures.map(\.count) == [2, 1, 1])
    }
}

@Suite struct MonotonicInstantTests {
    @Test func hugeOrInvalidDurationsSaturateInsteadOfTrapping() {
        let start = MonotonicInstant(seconds: 10)
        #expect(start.adding(seconds: 1e300).nanoseconds == .max)
        #expect(start.adding(seconds: .infinity).nanoseconds == .max)
        #expect(start.adding(seconds: .nan) == start)
        #expect(start.adding(seconds: -5) == start)
        #expect(MonotonicInstant(nanoseconds: .max - 1).adding(seconds: 1) == MonotonicInstant(nanoseconds: .max))
        #expect(start.adding(seconds: 1.5).seconds == 11.5)
    }
}
