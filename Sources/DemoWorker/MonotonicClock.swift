import Glibc

/// Deadlines on CLOCK_MONOTONIC, in nanoseconds, so a wall-clock change
/// neither fires a timer early nor stalls it.
enum MonotonicClock {
    static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// The poll(2) timeout that wakes at the earliest deadline: -1 (sleep
    /// until an fd is ready) when there is none, so an idle worker costs no
    /// wake-ups. Rounded up, since waking a little early would only spin.
    static func pollTimeout(untilEarliestOf deadlines: Int64?..., now: Int64) -> Int32 {
        guard let earliest = deadlines.compactMap({ $0 }).min() else { return -1 }
        let remaining = earliest - now
        if remaining <= 0 { return 0 }
        return Int32(min((remaining + 999_999) / 1_000_000, Int64(Int32.max)))
    }
}
