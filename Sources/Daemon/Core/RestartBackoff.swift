/// How long to wait before respawning a worker that died on its own.
///
/// Erlang/OTP's lesson: restart intensity is a rule of its own, not a retry
/// loop sprinkled through the code. A process that stayed up for at least
/// `stableUptime` is healthy: its replacement starts at once (what Workerman
/// and gunicorn do, and what keeps respawn latency in milliseconds). A process
/// that dies sooner is failing: each further quick death doubles the wait,
/// from `initialDelay` up to `maximumDelay`, so a crash loop costs almost
/// nothing and never spins.
struct RestartBackoff: Sendable, Equatable {
    var stableUptime: Double = 1
    var initialDelay: Double = 0.1
    var maximumDelay: Double = 30

    /// The delay before the next start after `consecutiveFailures` quick deaths
    /// in a row (0 means the last process was healthy).
    func delay(afterConsecutiveFailures consecutiveFailures: Int) -> Double {
        guard consecutiveFailures > 0 else { return 0 }
        let doublings = min(consecutiveFailures - 1, 30)
        return min(initialDelay * Double(1 << doublings), maximumDelay)
    }

    /// Whether a process that lived `uptime` seconds, and did or did not
    /// become ready, died too soon to count as healthy.
    func isQuickDeath(uptime: Double, becameReady: Bool) -> Bool {
        !becameReady || uptime < stableUptime
    }
}
