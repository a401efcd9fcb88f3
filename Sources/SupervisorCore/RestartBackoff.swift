/// How long to wait before respawning a worker that died on its own.
///
/// Erlang/OTP's lesson: restart intensity is a rule of its own, not a retry
/// loop sprinkled through the code. A process that stayed up for at least
/// `stableUptime` is healthy: its replacement starts at once (what Workerman
/// and gunicorn do, and what keeps respawn latency in milliseconds). A process
/// that dies sooner is failing: each further quick death doubles the wait,
/// from `initialDelay` up to `maximumDelay`, so a crash loop costs almost
/// nothing and never spins.
public struct RestartBackoff: Sendable, Equatable {
    public internal(set) var stableUptime: Double = 1
    public internal(set) var initialDelay: Double = 0.1
    public internal(set) var maximumDelay: Double = 30

    public init() {}

    /// The delay before the next start after `consecutiveFailures` quick deaths
    /// in a row (0 means the last process was healthy).
    public func delay(afterConsecutiveFailures consecutiveFailures: Int) -> Double {
        guard consecutiveFailures > 0 else { return 0 }
        let doublings = min(consecutiveFailures - 1, 30)
        return min(initialDelay * Double(1 << doublings), maximumDelay)
    }

    /// Whether a process that lived `uptime` seconds, and did or did not
    /// become ready, died too soon to count as healthy.
    public func isQuickDeath(uptime: Double, becameReady: Bool) -> Bool {
        !becameReady || uptime < stableUptime
    }
}
