import SupervisorCore
import Glibc

extension MonotonicInstant {
    /// The shell's only clock: CLOCK_MONOTONIC, which wall-clock changes
    /// (NTP, an operator's `date -s`) cannot move, so timeouts and backoff
    /// never fire early or hang.
    static func now() -> MonotonicInstant {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return MonotonicInstant(nanoseconds: UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec))
    }
}
