import Glibc

/// What every mode starts with: who this process is (as the master told it
/// through the environment), where to send notifications, and the signal pipe.
struct WorkerContext {
    /// APP_WORKER_ID, or "-" when run by hand, so log lines keep their shape.
    let workerID: String
    let pid: Int32
    let notify: NotifyChannel
    let signals: SignalPipe

    static func fromEnvironment() -> WorkerContext {
        let workerID = getenv("APP_WORKER_ID").map { String(cString: $0) } ?? "-"
        return WorkerContext(
            workerID: workerID.isEmpty ? "-" : workerID,
            pid: getpid(),
            notify: NotifyChannel.fromEnvironment(),
            signals: SignalPipe.install())
    }

    /// The master sends SIGUSR1 instead of replacing a non-reloadable worker;
    /// every mode answers it the same way, so tests can look for one line.
    func logReloadRequest() {
        Log.out("worker \(workerID) got SIGUSR1 (reload request for a non-reloadable worker); carrying on")
    }
}
