import Glibc

/// The `crash` mode: exits with status 3 after a delay, for the master's exit
/// accounting and restart backoff. It never sends READY=1, so under
/// `readiness: "notify"` it is also a replacement that fails readiness. A stop
/// request before the crash is obeyed (exit 0), so stopping the master does
/// not race a crash.
enum Crasher {
    static let exitStatus: Int32 = 3

    static func run(_ context: WorkerContext, after delay: Seconds) -> Never {
        let id = context.workerID
        Log.out("crash worker \(id) pid \(context.pid) will exit with status \(exitStatus) in \(delay)")
        let crashAt = MonotonicClock.now() + delay.nanoseconds
        while true {
            let now = MonotonicClock.now()
            if now >= crashAt {
                Log.err("crash worker \(id) exiting with status \(exitStatus), as asked")
                exit(exitStatus)
            }
            let timeout = MonotonicClock.pollTimeout(untilEarliestOf: crashAt, now: now)
            for signalNumber in context.signals.wait(timeoutMilliseconds: timeout) {
                if signalNumber == SIGUSR1 {
                    context.logReloadRequest()
                } else {
                    Log.out("crash worker \(id) got \(SignalPipe.name(of: signalNumber)) before crashing; exiting")
                    exit(0)
                }
            }
        }
    }
}
