/// Erlang/OTP's restart intensity for a whole group: at most `limit`
/// restarts within any `window` seconds, counting every restart after an
/// exit appd did not ask for, healthy or not.
///
/// The per-slot backoff (`RestartBackoff`) stops one process's crash loop;
/// this stops a storm: a thousand workers that each live just over the
/// healthy threshold would otherwise be respawned as fast as they die, and
/// the master would do nothing else. Past the limit, restarts are spread
/// out so that the window never holds more than `limit`.
public struct RestartIntensity: Sendable, Equatable {
    public static let window = 10.0

    /// At least 10, and twice the group's count: every process may restart
    /// twice in a window before the group is held back.
    public static func limit(forCount count: Int) -> Int { max(10, 2 * count) }

    /// The last `limit` restart times (scheduled ones included), oldest first.
    public private(set) var recent: [MonotonicInstant] = []

    /// Books a restart wanted at `earliest` and returns when it may happen:
    /// `earliest`, or later when the window is full.
    mutating func schedule(earliest: MonotonicInstant, limit: Int) -> MonotonicInstant {
        var at = earliest
        if recent.count >= limit {
            at = max(at, recent[recent.count - limit].adding(seconds: Self.window))
        }
        let index = recent.firstIndex { $0 > at } ?? recent.count
        recent.insert(at, at: index)
        if recent.count > limit { recent.removeFirst(recent.count - limit) }
        return at
    }
}
