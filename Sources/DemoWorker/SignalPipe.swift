import Glibc
import Synchronization

/// The write end of the self-pipe, for the signal handler, which as a C
/// function pointer cannot capture anything. It is stored before any handler
/// is installed, so a handler never runs the global's lazy initialisation
/// (which is not async-signal-safe).
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The whole signal handler: write the signal number as one byte, keeping
/// errno intact for the code it interrupted. write(2) is async-signal-safe;
/// nothing else is done here.
private func forwardSignalToPipe(_ signal: Int32) {
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: signal)
    _ = write(signalPipeWriteEnd.load(ordering: .acquiring), &byte, 1)
    errno = savedErrno
}

/// The self-pipe trick: signals become bytes on a pipe, so they are handled
/// in the main loop like any other readable fd (and wake a blocked poll)
/// instead of inside a handler where almost nothing is safe to do.
struct SignalPipe {
    /// What every mode handles: stop requests, and SIGUSR1, whose default
    /// action would kill a worker that the master only meant to nudge.
    static let handledSignals: [Int32] = [SIGTERM, SIGINT, SIGUSR1]

    let readEnd: Int32

    /// Creates the pipe and routes `handledSignals` into it. Call once.
    static func install() -> SignalPipe {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            Log.err("demo-worker: pipe failed: \(String(cString: strerror(errno)))")
            exit(1)
        }
        // Non-blocking at both ends: draining stops at "empty" instead of
        // blocking, and a handler never blocks on a full pipe (the bytes
        // already in it are enough to wake the loop). Swift's Glibc module
        // lacks pipe2, hence fcntl; no exec happens, so no close-on-exec.
        for end in ends { _ = fcntl(end, F_SETFL, O_NONBLOCK) }
        signalPipeWriteEnd.store(ends[1], ordering: .releasing)
        for signalNumber in handledSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = forwardSignalToPipe
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signalNumber, &action, nil)
        }
        return SignalPipe(readEnd: ends[0])
    }

    /// Every signal that arrived since the last call, in order, without blocking.
    func drain() -> [Int32] {
        var received: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count > 0 {
                received.append(contentsOf: buffer[0..<count].map { Int32($0) })
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return received  // EAGAIN: the pipe is empty
            }
        }
    }

    /// Sleeps until a signal arrives or the timeout (poll(2) milliseconds,
    /// -1 for none) passes; returns the signals received, possibly none.
    func wait(timeoutMilliseconds: Int32) -> [Int32] {
        var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, timeoutMilliseconds)  // EINTR just means: look at the pipe
        return drain()
    }

    /// "SIGTERM" and friends, for log lines.
    static func name(of signalNumber: Int32) -> String {
        switch signalNumber {
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGUSR1: return "SIGUSR1"
        default: return "signal \(signalNumber)"
        }
    }
}
