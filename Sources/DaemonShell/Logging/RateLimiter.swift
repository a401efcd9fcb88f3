import SupervisorCore
/// Lets one event through per interval and counts the rest, so a worker
/// spamming bad datagrams costs one log line per interval, not one each.
final class RateLimiter {
    let interval: Double
    private var lastAllowed: MonotonicInstant?
    private var suppressed = 0

    init(interval: Double) { self.interval = interval }

    /// nil: stay quiet. Otherwise how many were suppressed since the last one.
    func allow(now: MonotonicInstant) -> Int? {
        if let last = lastAllowed, now.seconds(since: last) < interval {
            suppressed += 1
            return nil
        }
        lastAllowed = now
        defer { suppressed = 0 }
        return suppressed
    }
}
