import Glibc

/// The `hang` mode: a worker that gets stuck, for the master's watchdog. It
/// sends READY=1 and pings the watchdog (if WATCHDOG_USEC asks) while alive;
/// after the delay it stops pinging and hangs without exiting, as a
/// deadlocked program would. Before the hang a stop request is obeyed
/// (exit 0); once hung, SIGTERM and SIGINT are caught and nothing is done
/// about them, so only the watchdog's SIGABRT (appd's and systemd's) or
/// SIGKILL ends it.
enum Hanger {
    static func run(_ context: WorkerContext, after delay: Seconds) -> Never {
        let id = context.workerID
        Log.out("hang worker \(id) pid \(context.pid) will hang in \(delay)")
        context.announceReady(status: "hanging in \(delay)")

        var watchdog = context.watchdog
        let hangAt = MonotonicClock.now() + delay.nanoseconds
        while true {
            let now = MonotonicClock.now()
            if now >= hangAt { hangForever(id) }
            let pingAt = watchdog?.pingIfDue(now: now, via: context.notify)
            let timeout = MonotonicClock.pollTimeout(untilEarliestOf: hangAt, pingAt, now: now)
            for signalNumber in context.signals.wait(timeoutMilliseconds: timeout) {
                if signalNumber == SIGUSR1 {
                    context.logReloadRequest()
                } else {
                    Log.out("hang worker \(id) got \(SignalPipe.name(of: signalNumber)) before hanging; exiting")
                    exit(0)
                }
            }
        }
    }

    /// pause() returns after each caught signal (whose handler only writes
    /// to the signal pipe, which nobody reads now), so it runs in a loop.
    ///
    /// SIGABRT gets its default action back: the Swift runtime catches it to
    /// print a backtrace, which here is 180-odd lines about this very
    /// pause() and takes over a second in a debug build, long enough for the
    /// master to escalate to SIGKILL. A hung program dies of the watchdog's
    /// SIGABRT at once.
    private static func hangForever(_ id: String) -> Never {
        signal(SIGABRT, SIG_DFL)
        Log.out("hang worker \(id) hanging now: no more watchdog pings, SIGTERM ignored; only SIGABRT or SIGKILL ends it")
        while true { pause() }
    }
}
