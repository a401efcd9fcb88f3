import Glibc

/// What every mode starts with: who this process is (as the master told it
/// through the environment), where to send notifications, the watchdog the
/// master asked for, and the signal pipe.
struct WorkerContext {
    /// APP_WORKER_ID, or "-" when run by hand, so log lines keep their shape.
    let workerID: String
    let pid: Int32
    let notify: NotifyChannel
    /// nil when WATCHDOG_USEC does not ask this process to ping. A mode
    /// that pings takes a copy, which keeps the schedule.
    let watchdog: Watchdog?
    let signals: SignalPipe

    static func fromEnvironment() -> WorkerContext {
        let workerID = getenv("APP_WORKER_ID").map { String(cString: $0) } ?? "-"
        let pid = getpid()
        return WorkerContext(
            workerID: workerID.isEmpty ? "-" : workerID,
            pid: pid,
            notify: NotifyChannel.fromEnvironment(),
            watchdog: Watchdog.fromEnvironment(pid: pid, now: MonotonicClock.now()),
            signals: SignalPipe.install())
    }

    /// READY=1 with what the worker now does, in one datagram, so the master
    /// shows the status from the moment it counts the worker as ready.
    func announceReady(status: String) {
        notify.send(["READY=1", "STATUS=" + status], patience: NotifyChannel.readinessPatience)
    }

    /// STOPPING=1 with what the worker does until it exits. The master
    /// already knows it asked for the stop, so this is not worth holding up
    /// the stop for.
    func announceStopping(status: String) {
        notify.send(["STOPPING=1", "STATUS=" + status], patience: NotifyChannel.routinePatience)
    }

    /// The master sends SIGUSR1 instead of replacing a non-reloadable worker;
    /// every mode answers it the same way, so tests can look for one line.
    func logReloadRequest() {
        Log.out("worker \(workerID) got SIGUSR1 (reload request for a non-reloadable worker); carrying on")
    }
}
