import Shared

/// `maxMemory`: PM2's `max_memory_restart`, made patient. A worker whose
/// memory (its whole process tree) is above the limit for `samplesAbove`
/// samples in a row is restarted gracefully, so a short peak (a big
/// request, a garbage collector's high tide) is forgiven and a leak is not.
public enum MemoryRule {
    /// Samples in a row above the limit before the worker is restarted.
    public static let samplesAbove = 3
    /// Seconds between samples; the shell samples only while a group has
    /// `maxMemory`, so a master without one still never wakes up idle.
    public static let sampleInterval = 1.0
}

extension Supervisor {
    /// Whether some group has `maxMemory`: only then does the shell sample.
    public var hasMemoryLimits: Bool { groups.contains { $0.config.limits.maxMemory != nil } }

    /// The live, not stopping processes whose memory the shell should
    /// sample; empty when no group has `maxMemory`.
    public var memoryWatchedPids: [Int32] {
        groups.filter { $0.config.limits.maxMemory != nil }.flatMap { group in
            group.slots.flatMap(\.processes).filter { !$0.isStopping }.map(\.pid)
        }
    }

    mutating func processMemorySample(pid: Int32, bytes: UInt64, now: MonotonicInstant) {
        guard let (g, id, role) = locate(pid), var process = groups[g].slots[id][role], !process.isStopping,
              let limit = groups[g].config.limits.maxMemory else { return }
        process.samplesAboveMemoryLimit = bytes > limit ? process.samplesAboveMemoryLimit + 1 : 0
        groups[g].slots[id].update(role, process)
        guard process.samplesAboveMemoryLimit >= MemoryRule.samplesAbove else { return }
        log(.warning, about: ref(g, id), pid: pid, "uses \(HumanFormat.bytes(bytes)), above its maxMemory of "
            + "\(HumanFormat.bytes(limit)) for \(MemoryRule.samplesAbove) samples in a row; restarting it")
        stopProcess(g, id, role, reason: .memoryLimit, now: now)
    }
}
