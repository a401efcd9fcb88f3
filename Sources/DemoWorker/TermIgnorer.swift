import Glibc

/// The `ignore-term` mode: a worker that will not stop when asked, so the
/// master's stopTimeout escalation to SIGKILL can be tested. SIGINT is
/// ignored too (a terminal's Ctrl-C reaches the whole process group); only
/// SIGKILL, which cannot be caught, ends it.
enum TermIgnorer {
    static func run(_ context: WorkerContext) -> Never {
        Log.out("ignore-term worker \(context.workerID) pid \(context.pid) started; only SIGKILL ends it")
        context.announceReady(status: "ignoring SIGTERM")
        while true {
            for signalNumber in context.signals.wait(timeoutMilliseconds: -1) {
                if signalNumber == SIGUSR1 {
                    context.logReloadRequest()
                } else {
                    Log.out("ignoring \(SignalPipe.name(of: signalNumber))")
                }
            }
        }
    }
}
