import SupervisorCore

/// When to sample workers' memory for `maxMemory` (`MemoryRule`): every
/// `MemoryRule.sampleInterval` while some group has the limit, never
/// otherwise, so a master without one keeps no timer of its own.
struct MemoryWatch {
    private(set) var nextSample: MonotonicInstant?

    /// Starts or stops the sampling as groups gain or lose `maxMemory`.
    mutating func update(active: Bool, now: MonotonicInstant) {
        if !active {
            nextSample = nil
        } else if nextSample == nil {
            nextSample = now.adding(seconds: MemoryRule.sampleInterval)
        }
    }

    /// Whether a sample is due now; if so the next one is scheduled.
    mutating func takeDue(now: MonotonicInstant) -> Bool {
        guard let next = nextSample, next <= now else { return false }
        nextSample = now.adding(seconds: MemoryRule.sampleInterval)
        return true
    }
}
