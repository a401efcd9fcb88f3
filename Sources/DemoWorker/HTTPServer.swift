import Glibc

/// The `web` mode: a single-threaded, non-blocking HTTP/1.1 server on the
/// listening socket inherited at fd 3 (or, with --port, one of its own). One
/// poll(2) loop watches the signal pipe, the listener and every connection;
/// nothing else runs, so there are no locks and every state change happens
/// in one place.
///
/// Stopping is shaped by the rolling reload: the master starts the
/// replacement on the same listening socket, waits for its READY=1, then
/// sends SIGTERM here. From then on new connections must go to the
/// replacement, and the clients of this worker's keep-alive connections must
/// move there without a failed request; see `beginDrain`.
final class HTTPServer {
    /// The drain ends (and the worker exits) this long after SIGTERM at the
    /// latest, whatever is left: well inside the master's default stopTimeout
    /// (2 s, then SIGKILL).
    private static let drainTimeLimit: Int64 = 1_200_000_000
    /// During the drain, a connection between requests is closed once it
    /// has been quiet this long. A client that is busy sending requests
    /// sends its next one well within it, and gets a last answer with
    /// `Connection: close` instead of a connection closed under its request.
    private static let drainQuietPeriod: Int64 = 300_000_000
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
        /// Stopping since `since`: no more accepts; exit once the
        /// connections are done, or at `exitBy`.
        case draining(since: Int64, exitBy: Int64)

        /// When the loop must wake up for the phase itself, if ever.
        var deadline: Int64? {
            switch self {
            case .booting(let readyAt): return readyAt
            case .serving: return nil
            case .draining(_, let exitBy): return exitBy
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
            case .draining(let since, let exitBy) where connections.isEmpty || now >= exitBy:
                exitAfterDraining(for: now - since)
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
                untilEarliestOf: reportAt, pingAt, phase.deadline, acceptPausedUntil, nextConnectionDeadline(), now: now)
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
            windDownConnections(now: MonotonicClock.now())
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
                beginDrain(on: signalNumber)
            }
        }
    }

    /// Stops accepting, and lets every connection finish what it is doing:
    ///
    /// - The listener is closed. The master keeps its own copy, so new
    ///   connections wait in the shared backlog for the replacement.
    /// - Requests under way are answered; the next request on every
    ///   keep-alive connection is answered with `Connection: close`, and the
    ///   client reconnects, to the replacement.
    /// - A connection between requests is closed once it has been quiet for
    ///   `drainQuietPeriod`: closing it at once, as nginx and uvicorn do,
    ///   fails the request of a busy client whose next request is already
    ///   on its way.
    /// - Every close is a lingering close (see `HTTPConnection`), so no
    ///   last answer is lost to a reset.
    ///
    /// The worker exits when no connection is left, or after
    /// `drainTimeLimit`.
    private func beginDrain(on signalNumber: Int32) {
        let now = MonotonicClock.now()
        if let listener { close(listener) }
        listener = nil
        phase = .draining(since: now, exitBy: now + Self.drainTimeLimit)
        for connection in connections { connection.closeAfterNextRequest() }
        context.announceStopping(status: "draining \(connections.count) connection(s)")
        Log.out("web worker \(context.workerID) got \(SignalPipe.name(of: signalNumber)); draining \(connections.count) "
            + "connection(s): next request answered with Connection: close, closed after "
            + "\(Self.milliseconds(Self.drainQuietPeriod)) ms quiet, exit within \(Self.milliseconds(Self.drainTimeLimit)) ms")
    }

    /// Moves every connection that has said everything towards its close
    /// (our FIN, then close(2) at the end of the lingering close), after
    /// giving up, during the drain, on those quiet for `drainQuietPeriod`.
    private func windDownConnections(now: Int64) {
        for connection in connections where !connection.isClosed {
            if let quietUntil = drainQuietDeadline(of: connection), now >= quietUntil {
                closeQuiet(connection)
            }
            if !connection.isClosed && connection.advanceTowardClose(now: now) { closeConnection(connection) }
        }
        connections.removeAll { $0.isClosed }
    }

    /// When a drained connection between requests is given up on.
    private func drainQuietDeadline(of connection: HTTPConnection) -> Int64? {
        guard case .draining(let since, _) = phase, connection.isIdle else { return nil }
        return max(since, connection.lastActivityAt) + Self.drainQuietPeriod
    }

    /// One last read before giving up on a quiet connection: a request that
    /// arrived since poll returned is answered (with `Connection: close`)
    /// rather than lost, which leaves only the microseconds from here to our
    /// FIN for a request to cross it.
    private func closeQuiet(_ connection: HTTPConnection) {
        serve(connection, revents: Int16(POLLIN))
        if !connection.isClosed && connection.isIdle { connection.stopReading() }
    }

    /// The earliest time a connection needs the loop without any I/O: its
    /// lingering close runs out, or its quiet period in the drain ends.
    private func nextConnectionDeadline() -> Int64? {
        connections.compactMap { $0.lingeringUntil ?? drainQuietDeadline(of: $0) }.min()
    }

    /// Nanoseconds as whole milliseconds, for log lines.
    private static func milliseconds(_ nanoseconds: Int64) -> Int64 { (nanoseconds + 500_000) / 1_000_000 }

    private func exitAfterDraining(for duration: Int64) -> Never {
        for connection in connections where connection.hasPendingOutput {
            counters.sendFailures += 1  // cut off by the drain's time limit
        }
        Log.out("web worker \(context.workerID) pid \(context.pid) exiting after \(counters.requests) requests, "
            + "\(counters.sendFailures) send failures; drained in \(Self.milliseconds(duration)) ms, "
            + "\(connections.count) connection(s) left")
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
                connections.append(HTTPConnection(fd: fd, acceptedAt: MonotonicClock.now()))
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
