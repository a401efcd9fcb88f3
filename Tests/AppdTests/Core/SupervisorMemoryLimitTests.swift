@testable import SupervisorCore
import Shared
import Testing

/// `maxMemory` (`MemoryRule`): N samples in a row above the limit restart a
/// worker gracefully, counted as its own failure; anything less does not.
@Suite struct SupervisorMemoryLimitTests {
    static let limit: UInt64 = 50 << 20

    static func harness(maxMemory: UInt64? = limit) -> SupervisorHarness {
        var group = SupervisorHarness.group("web", count: 1)
        group.limits.maxMemory = maxMemory
        return SupervisorHarness([group])
    }

    @Test func samplesAboveTheLimitInARowStopTheWorkerGracefullyAndItIsReplaced() throws {
        var h = Self.harness()
        let pid = try #require(h.pid("web", 0))
        for sample in 1..<MemoryRule.samplesAbove {
            h.advance(MemoryRule.sampleInterval)
            h.send(.memorySample(pid: pid, bytes: Self.limit + 1))
            #expect(h.signalsSent(to: pid).isEmpty, "sample \(sample) of \(MemoryRule.samplesAbove) is forgiven")
        }
        h.advance(MemoryRule.sampleInterval)
        h.send(.memorySample(pid: pid, bytes: Self.limit + 1))
        #expect(h.signalsSent(to: pid) == [.terminate], "the group's stop signal, not SIGKILL")
        #expect(h.logs.contains { $0.contains("above its maxMemory") && $0.contains("web#0[\(pid)]") }, "\(h.logs)")
        #expect(!h.supervisor.memoryWatchedPids.contains(pid), "a stopping worker is no longer sampled")

        h.obeySignals()
        let replacement = try #require(h.pid("web", 0))
        #expect(replacement != pid)
        let group = try #require(h.supervisor.group(named: "web"))
        #expect(group.exits.counts[.memoryLimit] == 1, "its own reason in the tally: \(group.exits.failures)")
        #expect(FailureKind.memoryLimit.key == "memory-limit")
        #expect(group.slots[0].lastExit?.stopReason == .memoryLimit)
    }

    @Test func aSampleBelowTheLimitStartsTheCountAgain() throws {
        var h = Self.harness()
        let pid = try #require(h.pid("web", 0))
        for _ in 0..<5 {
            for _ in 1..<MemoryRule.samplesAbove { h.send(.memorySample(pid: pid, bytes: Self.limit * 2)) }
            h.send(.memorySample(pid: pid, bytes: Self.limit))
        }
        #expect(h.signalsSent(to: pid).isEmpty, "never \(MemoryRule.samplesAbove) in a row; exactly the limit is not above it")
    }

    @Test func withoutMaxMemoryNothingIsSampledAndSamplesChangeNothing() throws {
        var h = Self.harness(maxMemory: nil)
        let pid = try #require(h.pid("web", 0))
        #expect(!h.supervisor.hasMemoryLimits)
        #expect(h.supervisor.memoryWatchedPids.isEmpty)
        for _ in 0..<10 { h.send(.memorySample(pid: pid, bytes: .max)) }
        #expect(h.signalsSent(to: pid).isEmpty)
    }

    @Test func onlyLiveProcessesOfLimitedGroupsAreWatched() throws {
        var limited = SupervisorHarness.group("web", count: 2)
        limited.limits.maxMemory = Self.limit
        let h = SupervisorHarness([limited, SupervisorHarness.group("queue", count: 3)])
        #expect(h.supervisor.hasMemoryLimits)
        #expect(Set(h.supervisor.memoryWatchedPids) == Set([h.pid("web", 0), h.pid("web", 1)].compactMap { $0 }))
    }
}
