import Glibc

/// The `queue` mode: stands in for a job consumer, a worker with no socket
/// whose progress shows only in its logs and counters. Jobs are scheduled on
/// fixed monotonic ticks, so logging does not make the interval drift.
enum QueueWorker {
    struct Counters: AppStatsCounters {
        var jobs = 0
        var json: String { "{\"jobs\":\(jobs)}" }
    }

    static func run(_ context: WorkerContext, interval: Seconds) -> Never {
        let id = context.workerID
        Log.out("queue worker \(id) pid \(context.pid) started, one job every \(interval)")
        context.announceReady(status: "working")

        var counters = Counters()
        var reporter = AppStatsReporter<Counters>()
        var watchdog = context.watchdog
        var nextJobAt = MonotonicClock.now() + interval.nanoseconds
        while true {
            var now = MonotonicClock.now()
            if now >= nextJobAt {
                counters.jobs += 1
                Log.out("queue worker \(id) finished job \(counters.jobs)")
                nextJobAt += interval.nanoseconds
                now = MonotonicClock.now()
                if nextJobAt <= now { nextJobAt = now + interval.nanoseconds }  // fell behind (stopped?): skip, don't burst
            }
            let reportAt = reporter.report(counters, now: now, via: context.notify)
            let pingAt = watchdog?.pingIfDue(now: now, via: context.notify)
            let timeout = MonotonicClock.pollTimeout(untilEarliestOf: nextJobAt, reportAt, pingAt, now: now)
            for signalNumber in context.signals.wait(timeoutMilliseconds: timeout) {
                if signalNumber == SIGUSR1 {
                    context.logReloadRequest()
                } else {
                    context.announceStopping(status: "stopping")
                    Log.out("queue worker \(id) got \(SignalPipe.name(of: signalNumber)) after \(counters.jobs) jobs; exiting")
                    exit(0)
                }
            }
        }
    }
}
