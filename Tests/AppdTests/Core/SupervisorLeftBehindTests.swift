@testable import DaemonShell
@testable import SupervisorCore
import Shared
import Testing

/// A worker that exits leaving members of its process group running: its
/// slot's next process starts only once the shell says the group is empty,
/// and a stop waits for it too.
@Suite struct SupervisorLeftBehindTests {
    /// The process exits with members of its group still running.
    static func exitLeavingProcesses(_ h: inout SupervisorHarness, _ pid: Int32) {
        h.alive.remove(pid)
        h.send(.childExited(pid: pid, status: .exited(code: 0), leftInGroup: true))
    }

    @Test func theRespawnWaitsUntilTheGroupItLeftIsEmpty() {
        var h = SupervisorHarness([SupervisorHarness.group("forker", count: 1)])
        let first = h.pid("forker", 0)!
        h.advance(5)  // A healthy run: its exit is respawned at once, not backed off.
        Self.exitLeavingProcesses(&h, first)
        #expect(h.state("forker", 0) == .spawning && h.pid("forker", 0) == nil)
        #expect(h.supervisor.heldSpawns == [WorkerRef(group: "forker", id: 0)], "no spawn order went out")
        #expect(h.logs.contains { $0.contains("forker#0 starts once the processes its last process left") }, "\(h.logs)")
        h.advance(10)
        #expect(h.pid("forker", 0) == nil, "time alone does not start it")

        h.send(.processGroupEmptied(pgid: first))
        let second = h.pid("forker", 0)
        #expect(second != nil && second != first)
        #expect(h.supervisor.heldSpawns.isEmpty && h.supervisor.leftBehind.isEmpty)
    }

    @Test func aGroupThatEmptiesBeforeTheBackoffEndsHoldsNothing() {
        var h = SupervisorHarness([SupervisorHarness.group("forker", count: 1)])
        let first = h.pid("forker", 0)!
        Self.exitLeavingProcesses(&h, first)  // A quick death: it backs off.
        h.send(.processGroupEmptied(pgid: first))
        h.advance(1)
        #expect(h.pid("forker", 0) != nil && h.supervisor.heldSpawns.isEmpty)
    }

    @Test func aStopOvertakingTheWaitEndsOnceTheGroupIsEmpty() {
        var h = SupervisorHarness([SupervisorHarness.group("forker", count: 1)])
        let first = h.pid("forker", 0)!
        h.advance(5)
        Self.exitLeavingProcesses(&h, first)
        #expect(h.request(.stopGroup("forker")) == nil)
        #expect(!h.notices.contains(.groupStopped("forker")), "the group is not stopped while what it ran is left")
        h.send(.processGroupEmptied(pgid: first))
        #expect(h.notices.contains(.groupStopped("forker")))
        #expect(h.state("forker", 0) == .empty && h.pid("forker", 0) == nil)
    }

    @Test func theDaemonExitsOnlyOnceWhatWorkersLeftIsGone() {
        var h = SupervisorHarness([SupervisorHarness.group("forker", count: 1)])
        let first = h.pid("forker", 0)!
        h.advance(5)
        Self.exitLeavingProcesses(&h, first)
        h.request(.stopDaemon)
        #expect(h.exitCode == nil)
        h.send(.processGroupEmptied(pgid: first))
        #expect(h.exitCode == 0)
    }
}
