import Glibc
import Shared
import SupervisorCore

/// The calling thread's signal mask and the process's dispositions.
///
/// The master blocks every signal it handles before any thread exists, so
/// threads started later inherit the mask and signals wait in the kernel
/// until the event loop reads them from a `SignalChannel`: nothing runs in a
/// signal handler. Children get an empty mask back from `Spawner`.
enum SignalMask {
    /// Blocks `signals` on the calling thread (and on threads it starts later).
    static func block(_ signals: [UnixSignal]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal.number) }
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        if result != 0 { throw SystemError(call: "pthread_sigmask(SIG_BLOCK)", errno: result) }
    }

    /// Sets `signals` to SIG_IGN for the whole process. For SIGPIPE: a control
    /// client that hangs up must turn the master's next write into EPIPE, not
    /// kill it. Children still start with every disposition at SIG_DFL.
    static func ignore(_ signals: [UnixSignal]) throws(SystemError) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_IGN
        for signal in signals {
            try checked("sigaction(\(signal), SIG_IGN)", sigaction(signal.number, &action, nil))
        }
    }
}
