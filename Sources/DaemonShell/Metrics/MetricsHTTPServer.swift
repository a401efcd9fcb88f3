import Glibc
import Shared
import SupervisorCore

/// The optional HTTP listener of `metrics: {listen: "tcp://..."}`: `GET
/// /metrics` (the Prometheus exposition) and `GET /healthz` (200 `ok`, or
/// 503 and why), for scrapers and Kubernetes probes.
///
/// It lives in the master's event loop, beside the control server, and
/// like it never waits on anyone: the listener and every connection are
/// non-blocking, accepts are `acceptsPerEvent` at a time, connections at
/// most `maximumConnections` (more get a 503 and are closed), a request
/// head at most `headLimit` bytes, a connection at most
/// `connectionTimeout` seconds from accept to close, replies written as
/// the socket takes them. The exposition itself is sampled in slices per
/// turn (`MetricsService`), and shared by the scrapes that wait for it.
/// Plain HTTP/1.0 and 1.1, one GET per connection; anything else gets 400,
/// 404 or 405.
final class MetricsHTTPServer {
    static let maximumConnections = 64
    static let headLimit = 8 * 1024
    static let connectionTimeout = 10.0
    /// How long a replied connection may linger for its client to close.
    static let lingerTimeout = 2.0
    static let acceptsPerEvent = 16
    /// How long accepting pauses when descriptors run out (the listener
    /// would otherwise stay readable and spin the loop).
    static let pauseWhenOutOfDescriptors = 1.0

    /// Asks for the exposition; `deliver` gets its text on a later turn.
    var onMetrics: (_ deliver: @escaping ([UInt8]) -> Void) -> Void = { _ in }
    /// Why the daemon is unhealthy; empty when it is healthy (`Supervisor.health`).
    var onHealth: () -> [String] = { [] }

    let address: ListenAddress
    private let listener: Int32
    private let loop: EventLoop
    private let log: DaemonLog
    private var listenerRegistration: EventLoop.Registration?
    private var connections: [Int32: ScrapeConnection] = [:]
    private var registrations: [Int32: EventLoop.Registration] = [:]
    private var nextNumber: Int32 = 0
    /// Accepting is paused until then: descriptors ran out.
    private var pausedUntil: MonotonicInstant?
    private let errorLogLimiter = RateLimiter(interval: 10)

    /// Takes over `listener`, a bound, listening, non-blocking socket.
    init(listener: Int32, address: ListenAddress, loop: EventLoop, log: DaemonLog) throws(SystemError) {
        self.listener = listener
        self.address = address
        self.loop = loop
        self.log = log
        listenerRegistration = try loop.register(fd: listener, interest: .readable) { [unowned self] _ in accept() }
    }

    var connectionCount: Int { connections.count }

    // MARK: - Accepting

    private func accept() {
        for _ in 0..<Self.acceptsPerEvent {
            let fd: Int32
            do {
                guard let accepted = try ListeningSocket.accept(listener, name: address.description) else { return }
                fd = accepted
            } catch where error.errno == EMFILE || error.errno == ENFILE {
                pauseAccepting(because: error)
                return
            } catch {
                warn("metrics listener: \(error)")
                return
            }
            guard connections.count < Self.maximumConnections else {
                // One try, without waiting: the client learns why, or not.
                let reply = HTTPReply.text(503, "too many connections to appd's metrics listener; try again")
                _ = try? FileIO.write(fd, reply.head + reply.body)
                FileIO.close(fd)
                continue
            }
            nextNumber &+= 1
            let connection = ScrapeConnection(number: nextNumber, fd: fd, deadline: MonotonicInstant.now().adding(seconds: Self.connectionTimeout))
            do {
                registrations[connection.number] = try loop.register(fd: fd, interest: .readable) { [unowned self] event in
                    service(connection, event: event)
                }
            } catch {
                warn("metrics listener: \(error)")
                FileIO.close(fd)
                continue
            }
            connections[connection.number] = connection
        }
    }

    private func pauseAccepting(because error: SystemError) {
        warn("metrics listener: \(error); not accepting for \(Int(Self.pauseWhenOutOfDescriptors))s")
        pausedUntil = MonotonicInstant.now().adding(seconds: Self.pauseWhenOutOfDescriptors)
        if let listenerRegistration { loop.modify(listenerRegistration, fd: listener, interest: []) }
    }

    /// Rate-limited: a flood of broken clients is one line per interval.
    private func warn(_ message: String) {
        guard let suppressed = errorLogLimiter.allow(now: .now()) else { return }
        log.warning(message + (suppressed > 0 ? " (and \(suppressed) more since the last report)" : ""))
    }

    // MARK: - One connection

    private func service(_ connection: ScrapeConnection, event: EventPoll.Event) {
        switch connection.phase {
        case .reading:
            if event.readable || event.hangup || event.error { read(connection) }
        case .awaitingMetrics:
            if event.hangup || event.error { close(connection) }
        case .writing:
            if event.hangup || event.error {
                close(connection)
            } else if event.writable {
                flush(connection)
            }
        case .draining:
            drain(connection)
        }
    }

    private func read(_ connection: ScrapeConnection) {
        switch FileIO.read(connection.fd, max: Self.headLimit) {
        case .wouldBlock:
            return
        case .endOfFile, .failed:
            close(connection)
            return
        case .bytes(let bytes):
            connection.received += bytes
        }
        switch HTTPRequestHead.parse(connection.received) {
        case .incomplete where connection.received.count >= Self.headLimit:
            send(.text(400, "request head over \(Self.headLimit) bytes"), to: connection)
        case .incomplete:
            return
        case .malformed(let reason):
            send(.text(400, reason), to: connection)
        case .complete(let request):
            answer(request, on: connection)
        }
    }

    private func answer(_ request: HTTPRequestHead, on connection: ScrapeConnection) {
        guard request.path == "/metrics" || request.path == "/healthz" else {
            send(.text(404, "no such page: \(request.path.prefix(100)); try /metrics or /healthz"), to: connection)
            return
        }
        guard request.method == "GET" else {
            send(.text(405, "only GET is served here", headers: ["Allow: GET"]), to: connection)
            return
        }
        if request.path == "/healthz" {
            let reasons = onHealth()
            // One line, whatever the reasons hold.
            let text = reasons.joined(separator: "; ").split(whereSeparator: \.isNewline).joined(separator: " ")
            send(reasons.isEmpty ? .text(200, "ok") : .text(503, text), to: connection)
            return
        }
        connection.phase = .awaitingMetrics
        if let registration = registrations[connection.number] { loop.modify(registration, fd: connection.fd, interest: []) }
        let number = connection.number
        onMetrics { [unowned self] exposition in
            guard let connection = connections[number] else { return }  // Gone meanwhile (deadline, hangup).
            send(HTTPReply(status: 200, contentType: MetricsExposition.contentType, body: exposition), to: connection)
        }
    }

    private func send(_ reply: HTTPReply, to connection: ScrapeConnection) {
        connection.reply(reply)
        flush(connection)
    }

    private func flush(_ connection: ScrapeConnection) {
        switch connection.flush() {
        case .done:
            FileIO.shutdownWriting(connection.fd)
            connection.startDraining(now: .now(), seconds: Self.lingerTimeout)
            setInterest(.readable, of: connection)
        case .blocked:
            setInterest(.writable, of: connection)
        case .failed:
            close(connection)
        }
    }

    private func drain(_ connection: ScrapeConnection) {
        switch FileIO.read(connection.fd, max: Self.headLimit) {
        case .bytes, .wouldBlock: return
        case .endOfFile, .failed: close(connection)
        }
    }

    private func setInterest(_ interest: EventPoll.Interest, of connection: ScrapeConnection) {
        if let registration = registrations[connection.number] { loop.modify(registration, fd: connection.fd, interest: interest) }
    }

    private func close(_ connection: ScrapeConnection) {
        guard connections.removeValue(forKey: connection.number) != nil else { return }
        if let registration = registrations.removeValue(forKey: connection.number) { loop.unregister(registration, fd: connection.fd) }
        FileIO.close(connection.fd)
    }

    // MARK: - Deadlines

    var nextDeadline: MonotonicInstant? {
        ([pausedUntil] + connections.values.map(\.deadline)).compactMap { $0 }.min()
    }

    /// Closes the connections whose time is up, and accepts again after a pause.
    func serviceDeadlines(now: MonotonicInstant) {
        for connection in connections.values where connection.deadline <= now { close(connection) }
        if let pausedUntil, pausedUntil <= now, let listenerRegistration {
            self.pausedUntil = nil
            loop.modify(listenerRegistration, fd: listener, interest: .readable)
        }
    }

    /// At exit.
    func closeAll() {
        for connection in connections.values { close(connection) }
        if let listenerRegistration { loop.unregister(listenerRegistration, fd: listener) }
        listenerRegistration = nil
        FileIO.close(listener)
    }
}
