@testable import DaemonShell
@testable import SupervisorCore
import Shared
import Testing

/// `restart`, `successExitCodes`, `maxRestarts`/`restartWindow`: which
/// exits are followed by a new process, and when a worker is given up on.
@Suite struct SupervisorRestartPolicyTests {
    static func group(_ name: String, restart: RestartPolicy = .always, successExitCodes: Set<Int32> = [0],
                      maxRestarts: Int = 10, restartWindow: Double = 60) -> GroupConfig {
        var config = SupervisorHarness.group(name, count: 1)
        config.restart = restart
        config.successExitCodes = successExitCodes
        config.maxRestarts = maxRestarts
        config.restartWindow = restartWindow
        return config
    }

    @Test func aOneShotJobThatSucceedsCompletesAndIsNotRestarted() {
        var h = SupervisorHarness([Self.group("migrate", restart: .never)])
        let pid = h.pid("migrate", 0)!
        h.exit(pid, .exited(code: 0))
        h.advance(120)
        #expect(h.state("migrate", 0) == .finished(.completed))
        #expect(h.supervisor.group(named: "migrate")?.slots[0].restarts == 0)
        #expect(h.supervisor.health.isHealthy, "a completed one-shot job is what was asked: \(h.supervisor.health)")
        #expect(h.logs.contains { $0.contains("worker migrate#0 completed") }, "\(h.logs)")
        // The operator runs it again.
        #expect(h.request(.startGroup("migrate")) == nil)
        #expect(h.pid("migrate", 0) != nil && h.pid("migrate", 0) != pid)
    }

    @Test func aOneShotJobThatFailsIsFailedNotRestarted() {
        var h = SupervisorHarness([Self.group("migrate", restart: .never)])
        h.exit(h.pid("migrate", 0)!, .exited(code: 2))
        h.advance(120)
        guard case .finished(.failed(let reason)) = h.state("migrate", 0) else {
            Issue.record("expected failed, got \(String(describing: h.state("migrate", 0)))")
            return
        }
        #expect(reason == "exited 2; restart is \"never\"")
        #expect(h.supervisor.group(named: "migrate")?.problems.last?.contains("appctl start migrate retries") == true)
        #expect(!h.supervisor.health.isHealthy)
    }

    @Test func onFailureRestartsAFailureAndEndsASuccess() {
        var h = SupervisorHarness([Self.group("job", restart: .onFailure, successExitCodes: [0, 3])])
        let first = h.pid("job", 0)!
        h.advance(5)
        h.exit(first, .killed(signal: .kill))
        let second = h.pid("job", 0)
        #expect(second != nil && second != first, "a signal is a failure: restarted")
        h.advance(5)
        h.exit(second!, .exited(code: 3))
        #expect(h.state("job", 0) == .finished(.completed), "3 is a success exit code here")
        #expect(h.supervisor.group(named: "job")?.exits.failures.count == 1, "only the SIGKILL is a failure in the tally")
    }

    @Test func aWorkerRestartedMoreThanMaxRestartsInTheWindowIsGivenUpOnUntilStarted() {
        var h = SupervisorHarness([Self.group("api", maxRestarts: 3, restartWindow: 60)])
        for _ in 0..<3 {
            h.exit(h.pid("api", 0)!, .exited(code: 1))
            h.advance(10)  // past the backoff: it runs again
            #expect(h.pid("api", 0) != nil)
        }
        h.exit(h.pid("api", 0)!, .exited(code: 1))
        h.advance(10)
        guard case .finished(.failed(let reason)) = h.state("api", 0) else {
            Issue.record("expected failed, got \(String(describing: h.state("api", 0)))")
            return
        }
        #expect(reason == "gave up after 3 restarts in 1m00s; last: exited 1", "\(reason)")
        #expect(h.supervisor.group(named: "api")?.slots[0].restarts == 3)
        h.advance(600)
        #expect(h.pid("api", 0) == nil, "nothing restarts it on its own")
        #expect(h.request(.startGroup("api")) == nil, "start retries a failed id")
        #expect(h.pid("api", 0) != nil && h.supervisor.group(named: "api")?.slots[0].recentRestarts.isEmpty == true)
    }

    @Test func aWorkerThatExitsWithSuccessToBeRecycledIsNeverGivenUpOn() {
        var h = SupervisorHarness([Self.group("php", maxRestarts: 2, restartWindow: 60)])
        for _ in 0..<20 {
            h.advance(1.5)
            h.exit(h.pid("php", 0)!, .exited(code: 0))
            #expect(h.pid("php", 0) != nil, "restarted at once after a healthy run")
        }
        #expect(h.supervisor.group(named: "php")?.slots[0].restarts == 20)
    }

    @Test func restartsSpreadBeyondTheWindowNeverGiveUp() {
        var h = SupervisorHarness([Self.group("api", maxRestarts: 2, restartWindow: 10)])
        for _ in 0..<6 {
            h.advance(11)
            h.exit(h.pid("api", 0)!, .exited(code: 1))
            h.advance(1)
            #expect(h.pid("api", 0) != nil)
        }
    }

    @Test func aMissingExecutableEndsFailedAndAReloadRetriesIt() {
        var h = SupervisorHarness([Self.group("api", maxRestarts: 2)])
        let ref = WorkerRef(group: "api", id: 0)
        h.failingSpawns.insert(ref)
        h.request(.restart(group: "api"))
        h.obeySignals()
        h.advance(60)
        guard case .finished(.failed(let reason)) = h.state("api", 0) else {
            Issue.record("expected failed, got \(String(describing: h.state("api", 0)))")
            return
        }
        #expect(reason.hasPrefix("gave up after 2 restarts in 1m00s; last: failed to start:"), "\(reason)")
        h.failingSpawns.remove(ref)
        #expect(h.request(.reload(group: "api", config: nil)) == nil)
        #expect(h.pid("api", 0) != nil, "the reload started it")
    }
}
