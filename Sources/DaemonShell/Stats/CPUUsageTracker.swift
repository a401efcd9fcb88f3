import SupervisorCore
/// CPU % of each process from the difference between two of its samples,
/// kept by the master between requests, so a `status` never sleeps to
/// measure.
///
/// - 100 % is one core fully busy; a multi-threaded process can show more.
/// - A process seen for the first time has no earlier sample: it shows its
///   average over its whole life so far, which for a busy loop is already
///   near 100 % and for an idle daemon near 0 %, rather than a blank.
/// - Two requests a few milliseconds apart (two clients, or `status` right
///   after `status`) would divide a tick or two by almost nothing and show
///   0 % or 300 % at random: within `minimumWindow` of its baseline a
///   process shows the figure it showed last, and the baseline stays put.
/// - A process is known by pid *and* start time, so a new process that got
///   a recycled pid starts afresh instead of inheriting a difference.
/// - A pid not asked about for `forgetAfter` seconds is forgotten, so the
///   table holds only processes still asked about. Not forgetting at once
///   lets `status web` followed by `status` keep the other groups' windows.
struct CPUUsageTracker {
    var minimumWindow: Double
    var forgetAfter: Double

    private struct Baseline {
        var startTicks: UInt64
        var cpuSeconds: Double
        var at: MonotonicInstant
        var percent: Double
        var lastAsked: MonotonicInstant
    }

    private var baselines: [Int32: Baseline] = [:]

    init(minimumWindow: Double = 0.25, forgetAfter: Double = 120) {
        self.minimumWindow = minimumWindow
        self.forgetAfter = forgetAfter
    }

    /// The pids with a baseline.
    var trackedPids: Set<Int32> { Set(baselines.keys) }

    /// CPU % of `sample`'s process since its previous sample (see the type's rules).
    mutating func percent(of sample: ProcessSample, at now: MonotonicInstant) -> Double {
        percent(pid: sample.pid, startTicks: sample.startTicks, cpuSeconds: sample.cpuSeconds,
                lifetime: sample.lifetime, at: now)
    }

    /// `cpuSeconds`: CPU time used so far; `lifetime`: seconds since it started.
    mutating func percent(
        pid: Int32, startTicks: UInt64, cpuSeconds: Double, lifetime: Double, at now: MonotonicInstant
    ) -> Double {
        if var baseline = baselines[pid], baseline.startTicks == startTicks, cpuSeconds >= baseline.cpuSeconds {
            baseline.lastAsked = now
            let elapsed = now.seconds(since: baseline.at)
            if elapsed >= minimumWindow {
                baseline.percent = (cpuSeconds - baseline.cpuSeconds) / elapsed * 100
                baseline.cpuSeconds = cpuSeconds
                baseline.at = now
            }
            baselines[pid] = baseline
            return baseline.percent
        }
        let average = lifetime > 0 ? cpuSeconds / lifetime * 100 : 0
        baselines[pid] = Baseline(startTicks: startTicks, cpuSeconds: cpuSeconds, at: now, percent: average,
                                  lastAsked: now)
        return average
    }

    /// Drops the pids not asked about for `forgetAfter` seconds.
    mutating func forgetStale(at now: MonotonicInstant) {
        guard baselines.contains(where: { now.seconds(since: $0.value.lastAsked) > forgetAfter }) else { return }
        baselines = baselines.filter { now.seconds(since: $0.value.lastAsked) <= forgetAfter }
    }

    /// Drops one pid at once, e.g. when the master reaped it.
    mutating func forget(pid: Int32) {
        baselines[pid] = nil
    }
}
