import Glibc

/// The `web` mode: a single-threaded, non-blocking HTTP/1.1 server on the
/// listening socket inherited at fd 3 (or, with --port, one of its own). One
/// poll(2) loop watches the signal pipe, the listener and every connection;
/// nothing else runs, so there are no locks and every state change happens
/// in one place.
final class HTTPServer {
    /// Shutdown finishes in-flight responses for at most this long, leaving
    /// the master's stopTimeout (seconds) for the exit itself.
    private static let drainGracePeriod: Int64 = 800_000_000
    /// After running out of fds (EMFILE...), accepting resumes after this
    /// pause or as soon as a connection closes, instead of spinning on a
    /// listener that stays readable.
    private static let acceptRetryDelay: Int64 = 100_000_000
    /// Accepts per wake-up, so a connection burst cannot starve the
    /// connections already being served.
    private static let acceptBatch = 64

    private enum Phase {
        /// Simulated start-up work (--boot-delay): the listener is left
        /// alone and READY=1 not sent until `readyAt`.
        case booting(readyAt: Int64)
        case serving
        /// Stopping: no more accepts; exit once the connections are done,
        /// or at `exitBy`.
        case draining(exitBy: Int64)

        /// When the loop must wake up for the phase itself, if ever.
        var deadline: Int64? {
            switch self {
            case .booting(let readyAt): return readyAt
            case .serving: return nil
            case .draining(let exitBy): return exitBy
            }
        }
    }

    private let context: WorkerContext
    private let routes: WebRoutes
    private var phase: Phase
    /// Closed (nil) at shutdown: the master keeps its own copy bound, so
    /// new connections wait in the backlog for the next worker.
    private var listener: Int32?
    /// "fd 3" or "127.0.0.1:8080", for log lines.
    private let listenerName: String
    private var connections: [HTTPConnection] = []
    private var counters = WebCounters()
    private var statsReporter = AppStatsReporter<WebCounters>()
    private var watchdog: Watchdog?
    private var acceptPausedUntil: Int64?
    /// One read buffer for every connection; each read's bytes are copied
    /// into the connection that owns them.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)

    /// Takes the inherited socket (or binds its own port), or exits 2
    /// explaining why there is none.
    static func start(_ context: WorkerContext, options: Mode.WebOptions) -> Never {
        let listener = options.ownPort.map(LoopbackPort.bind) ?? SocketActivation.firstListeningSocket()
        switch listener {
        case .success(let listener):
            HTTPServer(context: context, listener: listener, bootDelay: options.bootDelay).run()
        case .failure(let failure):
            Log.err("demo-worker web: \(failure)")
            exit(2)
        }
    }

    private init(context: WorkerContext, listener: ListeningSocket, bootDelay: Seconds) {
        self.context = context
        self.routes = WebRoutes(workerID: context.workerID, pid: context.pid)
        self.listener = listener.fd
        self.listenerName = listener.name
        self.watchdog = context.watchdog
        self.phase = .booting(readyAt: MonotonicClock.now() + bootDelay.nanoseconds)
        if bootDelay.value > 0 {
            Log.out("web worker \(context.workerID) pid \(context.pid) booting for \(bootDelay) before it uses \(listener.name)")
        }
    }

    private func run() -> Never {
        var pollSet: [pollfd] = []
        while true {
            let now = MonotonicClock.now()
            switch phase {
            case .booting(let readyAt) where now >= readyAt:
                phase = .serving
                Log.out("web worker \(context.workerID) pid \(context.pid) serving on \(listenerName)")
                context.announceReady(status: "serving")
            case .draining(let exitBy) where connections.isEmpty || now >= exitBy:
                exitAfterDraining()
            default:
                break
            }
            if let until = acceptPausedUntil, now >= until { acceptPausedUntil = nil }
            let reportAt = statsReporter.report(counters, now: now, via: context.notify)
            let pingAt = watchdog?.pingIfDue(now: now, via: context.notify)

            pollSet.removeAll(keepingCapacity: true)
            pollSet.append(pollfd(fd: context.signals.readEnd, events: Int16(POLLIN), revents: 0))
            let listenerSlot = pollSet.count
            if let listener, case .serving = phase, acceptPausedUntil == nil {
                pollSet.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            }
            let firstConnectionSlot = pollSet.count
            for connection in connections {
                pollSet.append(pollfd(fd: connection.fd, events: connection.pollEvents, revents: 0))
            }

            let timeout = MonotonicClock.pollTimeout(
                untilEarliestOf: reportAt, pingAt, phase.deadline, acceptPausedUntil, now: now)
            if poll(&pollSet, nfds_t(pollSet.count), timeout) < 0 {
                if errno == EINTR { continue }
                Log.err("demo-worker web: poll failed: \(String(cString: strerror(errno)))")
                exit(1)
            }

            if pollSet[0].revents != 0 { handle(signals: context.signals.drain()) }
            for (offset, connection) in connections.enumerated() {
                let revents = pollSet[firstConnectionSlot + offset].revents
                if revents != 0 { serve(connection, revents: revents) }
            }
            connections.removeAll { $0.isClosed || closeIfFinished($0) }
            if listenerSlot < firstConnectionSlot && pollSet[listenerSlot].revents != 0 { acceptPending() }
        }
    }

    private func handle(signals: [Int32]) {
        for signalNumber in signals {
            if signalNumber == SIGUSR1 {
                context.logReloadRequest()
            } else if case .draining = phase {
                continue  // already stopping
            } else {
                beginShutdown(on: signalNumber)
            }
        }
    }

    /// Stops accepting; answers already queued are still sent until the
    /// drain deadline. Requests that already arrived are answered first:
    /// their clients picked this worker and must not see a reset. Idle
    /// keep-alive connections then close right away (at the end of this
    /// loop turn); a connection accepted but still waiting for its first
    /// request gets that one request, until the drain deadline.
    private func beginShutdown(on signalNumber: Int32) {
        context.announceStopping(status: "draining")
        if let listener { close(listener) }
        listener = nil
        phase = .draining(exitBy: MonotonicClock.now() + Self.drainGracePeriod)
        for connection in connections {
            serve(connection, revents: Int16(POLLIN))
            if connection.isClosed { continue }
            if connection.answered == 0 { connection.closeAfterNextRequest() } else { connection.stopReading() }
        }
        let busy = connections.filter { !$0.isClosed && ($0.hasPendingOutput || $0.answered == 0) }.count
        Log.out("web worker \(context.workerID) got \(SignalPipe.name(of: signalNumber)); "
            + "finishing \(busy) in-flight request(s), closing \(connections.count - busy) idle connection(s)")
    }

    private func exitAfterDraining() -> Never {
        for connection in connections where connection.hasPendingOutput {
            counters.sendFailures += 1  // cut off by the drain deadline
        }
        Log.out("web worker \(context.workerID) pid \(context.pid) exiting after \(counters.requests) requests, "
            + "\(counters.sendFailures) send failures")
        exit(0)
    }

    private func serve(_ connection: HTTPConnection, revents: Int16) {
        if revents & Int16(POLLNVAL | POLLERR) != 0 {
            drop(connection)
            return
        }
        if revents & Int16(POLLIN | POLLHUP) != 0 && connection.pollEvents & Int16(POLLIN) != 0 {
            guard connection.receive(using: scratch, routes: routes, counters: &counters) else {
                drop(connection)
                return
            }
        }
        // Written right away rather than on the next POLLOUT: the socket
        // almost always has room, which saves a poll round trip per request.
        if connection.hasPendingOutput && !connection.flush() { drop(connection) }
    }

    /// Closes a connection that broke; an unsent answer is a send failure.
    private func drop(_ connection: HTTPConnection) {
        if connection.hasPendingOutput { counters.sendFailures += 1 }
        closeConnection(connection)
    }

    private func closeIfFinished(_ connection: HTTPConnection) -> Bool {
        guard connection.isFinished else { return false }
        closeConnection(connection)
        return true
    }

    private func closeConnection(_ connection: HTTPConnection) {
        connection.close()
        counters.connections -= 1
        acceptPausedUntil = nil  // an fd is free again
    }

    /// Accepts what is waiting, non-blocking: a sibling worker may have taken
    /// the connection that woke us, which is EAGAIN, not an error. (Swift's
    /// Glibc module lacks accept4, so O_NONBLOCK is set with fcntl; an
    /// accepted socket does not inherit it. Close-on-exec is not needed: this
    /// process never execs.)
    private func acceptPending() {
        guard let listener else { return }
        for _ in 0..<Self.acceptBatch {
            let fd = accept(listener, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFL, O_NONBLOCK)
                connections.append(HTTPConnection(fd: fd))
                counters.connections += 1
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO:
                continue  // that client gave up before we got to it
            default:
                Log.err("demo-worker web: accept failed: \(String(cString: strerror(errno))); pausing accepts")
                acceptPausedUntil = MonotonicClock.now() + Self.acceptRetryDelay
                return
            }
        }
    }
}
