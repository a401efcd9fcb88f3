/// Counters a mode reports to the master as `APPSTATS={json}`.
protocol AppStatsCounters: Equatable {
    /// A JSON object on one line.
    var json: String { get }
}

/// Sends APPSTATS when the counters changed, at most once per second: fresh
/// enough for `appctl status`, cheap under load (a benchmark changes the
/// counters thousands of times a second), and silent when nothing happens, so
/// an idle worker never wakes up just to report.
struct AppStatsReporter<Counters: AppStatsCounters> {
    private static var minimumInterval: Int64 { 1_000_000_000 }

    private var lastSent: Counters?
    private var lastSentAt: Int64 = .min

    /// Sends now if the counters changed and a second has passed since the
    /// last report. Returns when to call again for a change still unreported,
    /// or nil when there is nothing to wait for. A report the master's full
    /// queue did not take is tried again a second later, so an idle worker's
    /// last counters still arrive.
    mutating func report(_ counters: Counters, now: Int64, via notify: NotifyChannel) -> Int64? {
        guard counters != lastSent else { return nil }
        let dueAt = lastSentAt == .min ? now : lastSentAt + Self.minimumInterval
        guard now >= dueAt else { return dueAt }
        let delivery = notify.send(["APPSTATS=" + counters.json], patience: NotifyChannel.routinePatience)
        lastSentAt = now
        guard delivery != .queueStayedFull else { return now + Self.minimumInterval }
        lastSent = counters
        return nil
    }
}
