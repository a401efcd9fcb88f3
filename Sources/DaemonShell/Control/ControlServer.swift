import Glibc
import Shared
import SupervisorCore

/// The control socket's side of the master: the listener and its clients,
/// framing requests, buffering replies, the idle and stall deadlines, and the
/// spare descriptor that sheds a client when descriptors run out.
///
/// Nothing here blocks: a silent, slow or hostile client costs a buffer and
/// is cut off, while supervision goes on. What a request means is not its
/// business: each well-formed request goes to `onRequest`, and the daemon
/// answers with `send` and `finish`. A client is closed at the end of the
/// loop turn (`close`), so a send that fails while the daemon walks its
/// streams or clients changes nothing under it.
final class ControlServer {
    /// Seconds a client may stay connected without a request or a stream.
    static let idleTimeout = 30.0
    /// Seconds a client may leave its replies unread before it is dropped.
    static let stallTimeout = 10.0
    /// More concurrent clients than this are told `busy` and closed.
    static let maximumClients = 1000
    /// Requests handled per client per loop turn, so one client pipelining
    /// thousands cannot hold up the others, the children or the signals.
    static let requestsPerTurn = 32

    /// A well-formed request from a client.
    var onRequest: (ControlRequest, _ client: Int32) -> Void = { _, _ in }
    /// A client is gone (closed at the end of a turn): its streams go too.
    var onClientClosed: (_ client: Int32) -> Void = { _ in }
    /// Whether a client has a stream open (a watch, a follow, a reload in
    /// flight): such a client is neither idle nor done.
    var hasStreams: (_ client: Int32) -> Bool = { _ in false }
    /// A client that had replies waiting for its socket has taken them all:
    /// a stream paced by the client (`LogStream`) may send its next slice.
    var onDrained: (_ client: Int32) -> Void = { _ in }

    /// Every request so far, by command and result (for metrics).
    private(set) var requests = ControlRequestTally()

    private let listener: UnixControlListener
    private let loop: EventLoop
    private let log: DaemonLog
    private var clients: [Int32: ControlClient] = [:]
    private var registrations: [Int32: EventLoop.Registration] = [:]
    private var nextClientNumber: Int32 = 0
    /// Given up to shed a client when descriptors run out (see `accept`).
    private var spareDescriptor = ControlServer.openSpareDescriptor()
    private let descriptorLogLimiter = RateLimiter(interval: 10)
    private let clientLogLimiter = RateLimiter(interval: 10)

    init(listener: UnixControlListener, loop: EventLoop, log: DaemonLog) throws(SystemError) {
        self.listener = listener
        self.loop = loop
        self.log = log
        _ = try loop.register(fd: listener.fd, interest: .readable) { [unowned self] _ in accept() }
    }

    var clientCount: Int { clients.count }

    /// Whether replies to `client` wait for its socket (or it is gone):
    /// a paced stream sends nothing more until `onDrained`.
    func isBlocked(_ number: Int32) -> Bool {
        guard let client = clients[number], !client.closing else { return true }
        return client.waitingToWrite
    }

    /// Clients with complete requests beyond their last turn's share, as
    /// the turn started: they get their next share after the turn's events
    /// (`handleLeftoverRequests`), and the loop does not sleep meanwhile.
    private var leftovers: [ControlClient] = []

    var hasUnhandledRequests: Bool { !leftovers.isEmpty }

    func startTurn() { leftovers = clients.values.filter { $0.hasUnhandledLines && !$0.closing } }

    // MARK: - Accepting

    private func accept() {
        while true {
            let fd: Int32
            do {
                guard let accepted = try listener.accept() else { return }
                fd = accepted
            } catch where error.errno == EMFILE || error.errno == ENFILE {
                shedClientWithoutDescriptors()
                return
            } catch {
                log.error("control socket: \(error)")
                return
            }
            nextClientNumber &+= 1
            let client = ControlClient(number: nextClientNumber, fd: fd, now: .now())
            clients[client.number] = client
            do {
                registrations[client.number] = try loop.register(fd: fd, interest: .readable) { [unowned self] event in
                    service(client, event: event)
                }
            } catch {
                log.error("control client: \(error)")
                close(client)
                continue
            }
            guard let peer = UnixControlListener.peerCredentials(fd), peer.uid == 0 || peer.uid == geteuid() else {
                let uid = UnixControlListener.peerCredentials(fd)?.uid ?? UInt32.max
                warnAboutClient("refused a control client with uid \(uid)")
                finish(client.number, with: .error(id: nil, .forbidden(uid: uid)))
                continue
            }
            if clients.count > Self.maximumClients {
                finish(client.number, with: .error(id: nil, ProtocolError(.busy, "too many control clients (\(Self.maximumClients)); try again")))
                continue
            }
            // A client (appctl) writes its request right after connecting:
            // it is read now, not when the next turn's poll reports it,
            // which would first wait out this turn's slice of status rows
            // (up to 5 ms while watchers' snapshots are being sampled).
            readRequests(client, peerGone: false)
        }
    }

    /// Out of descriptors: the waiting connection would keep the listener
    /// readable and the loop spinning. The spare descriptor kept for this
    /// moment is given up to accept it and close it at once.
    private func shedClientWithoutDescriptors() {
        FileIO.close(spareDescriptor)
        if let fd = try? listener.accept() { FileIO.close(fd) }
        spareDescriptor = Self.openSpareDescriptor()
        if let suppressed = descriptorLogLimiter.allow(now: .now()) {
            log.error("out of file descriptors: refused a control client"
                + (suppressed > 0 ? " (and \(suppressed) more since the last report)" : ""))
        }
    }

    private static func openSpareDescriptor() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    /// Rate-limited: a thousand clients that hang up at once are one line,
    /// not a thousand (each costs a write on the supervision path).
    private func warnAboutClient(_ what: String) {
        guard let suppressed = clientLogLimiter.allow(now: .now()) else { return }
        log.warning(what + (suppressed > 0 ? " (and \(suppressed) more since the last report)" : ""))
    }

    // MARK: - Reading

    private func service(_ client: ControlClient, event: EventPoll.Event) {
        if event.writable { handle(client.flush(), for: client) }
        guard !client.closing else { return }
        if client.readClosed {
            // Half-closed earlier; EPOLLHUP now means it is gone altogether
            // (epoll reports it whatever the interest), streams and all.
            if event.hangup || event.error { close(client) }
        } else if event.readable || event.hangup || event.error {
            readRequests(client, peerGone: event.hangup || event.error)
        }
    }

    /// `peerGone`: EPOLLHUP, both directions shut (the client closed or
    /// died), as opposed to a half-close (`shutdown(SHUT_WR)`), after which
    /// the client still reads what it is owed.
    private func readRequests(_ client: ControlClient, peerGone: Bool) {
        switch FileIO.read(client.fd, max: 64 * 1024) {
        case .wouldBlock:
            return
        case .failed:
            close(client)
            return
        case .endOfFile where peerGone:
            close(client)
            return
        case .endOfFile:
            client.readClosed = true
            // A last request without its newline is still a request.
            if !client.framer.isAtLineBoundary { client.framer.append(CollectionOfOne(UInt8(ascii: "\n"))) }
            updateInterest(client)
        case .bytes(let bytes):
            guard !client.closeAfterFlush else { return }  // Its last word was said.
            client.framer.append(bytes)
        }
        handleRequests(client)
    }

    /// Gives every client with requests left over from an earlier turn its
    /// next share.
    func handleLeftoverRequests() {
        for client in leftovers where client.hasUnhandledLines && !client.closing { handleRequests(client) }
        leftovers.removeAll()
    }

    /// Handles up to `requestsPerTurn` complete lines; the rest wait for the
    /// next turn (`hasUnhandledLines` keeps the loop from sleeping meanwhile).
    /// A half-closed client is closed only once every request it sent is
    /// answered, however many it pipelined.
    private func handleRequests(_ client: ControlClient) {
        // Set while lines are being handled, so that a reply flushed in the
        // middle does not close a half-closed client with requests left.
        client.hasUnhandledLines = true
        for _ in 0..<Self.requestsPerTurn {
            guard !client.closing, !client.closeAfterFlush else {
                client.hasUnhandledLines = false
                return
            }
            let line: [UInt8]?
            do {
                line = try client.framer.nextLine()
            } catch {
                client.hasUnhandledLines = false
                finish(client.number, with: .error(id: nil, .lineTooLarge(limit: LineFramer.protocolLineLimit)))
                return
            }
            guard let line else {
                client.hasUnhandledLines = false
                closeIfDone(client)
                return
            }
            client.lastActivity = .now()
            do {
                let request = try ControlRequest(line: line)
                client.unanswered.append((request.id, request.command.name))
                onRequest(request, client.number)
            } catch {
                requests.count(command: "invalid", result: error.error.code.rawValue)
                send(error.reply, to: client.number)
            }
        }
    }

    // MARK: - Writing

    /// Queues a reply for a client; a client that cannot take it is dropped.
    func send(_ reply: ControlReply, to number: Int32) { send(CollectionOfOne(reply), to: number) }

    /// Queues replies to leave in one write. Replies to a client that is
    /// gone, or closing this turn, are dropped.
    func send(_ replies: some Collection<ControlReply>, to number: Int32) {
        guard let client = clients[number], !client.closing else { return }
        handle(client.send(replies), for: client)
        guard !client.closing else { return }  // Dropped: what it was owed counts as `closed`.
        for reply in replies where reply.isFinal {
            guard let index = client.unanswered.firstIndex(where: { $0.id == reply.id }) else { continue }
            let command = client.unanswered.remove(at: index).command
            let result = if case .error(_, let error) = reply { error.code.rawValue } else { "ok" }
            requests.count(command: command, result: result)
        }
    }

    /// Queues reply lines encoded by the caller, to leave in one write.
    func send(lines: [UInt8], to number: Int32) {
        guard let client = clients[number], !client.closing else { return }
        handle(client.send(lines: lines), for: client)
    }

    /// Sends a last reply, then closes once it is written.
    func finish(_ number: Int32, with reply: ControlReply) {
        guard let client = clients[number], !client.closing else { return }
        client.closeAfterFlush = true
        handle(client.send(CollectionOfOne(reply)), for: client)
    }

    private func handle(_ outcome: ControlClient.Outcome, for client: ControlClient) {
        switch outcome {
        case .flushed:
            client.blockedSince = nil
            if client.waitingToWrite {
                client.waitingToWrite = false
                updateInterest(client)
                if !client.closeAfterFlush { onDrained(client.number) }
            }
            if client.closeAfterFlush { close(client) } else { closeIfDone(client) }
        case .blocked:
            if client.blockedSince == nil { client.blockedSince = .now() }
            if !client.waitingToWrite {
                client.waitingToWrite = true
                updateInterest(client)
            }
        case .failed(let reason):
            warnAboutClient("dropped control client \(client.number): \(reason)")
            close(client)
        }
    }

    /// Readable until the client's EOF, writable while replies wait.
    private func updateInterest(_ client: ControlClient) {
        guard let registration = registrations[client.number] else { return }
        var interest: EventPoll.Interest = []
        if !client.readClosed { interest.insert(.readable) }
        if client.waitingToWrite { interest.insert(.writable) }
        loop.modify(registration, fd: client.fd, interest: interest)
    }

    /// A half-closed client goes once it is owed nothing more.
    private func closeIfDone(_ client: ControlClient) {
        if client.readClosed, !client.hasUnhandledLines, client.pendingBytes == 0, !hasStreams(client.number) {
            close(client)
        }
    }

    /// Stops the client's events now; its fd is closed, and its streams
    /// forgotten, at the end of the turn.
    private func close(_ client: ControlClient) {
        guard !client.closing else { return }
        client.closing = true
        if let registration = registrations.removeValue(forKey: client.number) { loop.unregister(registration, fd: client.fd) }
        loop.atEndOfTurn { [unowned self] in
            clients[client.number] = nil
            FileIO.close(client.fd)
            for request in client.unanswered { requests.count(command: request.command, result: "closed") }
            onClientClosed(client.number)
        }
    }

    /// At exit: a last chance for queued replies (such as the answer to
    /// `stop`), without waiting on anyone.
    func closeAll() {
        for client in clients.values where !client.closing {
            _ = client.flush()
            close(client)
        }
        loop.runDeferred()
    }

    // MARK: - Deadlines: idle and stalled clients

    var nextDeadline: MonotonicInstant? {
        var deadlines: [MonotonicInstant] = []
        for client in clients.values where !client.closing {
            if let blocked = client.blockedSince { deadlines.append(blocked.adding(seconds: Self.stallTimeout)) }
            if isIdleCandidate(client) { deadlines.append(client.lastActivity.adding(seconds: Self.idleTimeout)) }
        }
        return deadlines.min()
    }

    /// A client with nothing in flight: no stream, no unsent reply.
    private func isIdleCandidate(_ client: ControlClient) -> Bool {
        !client.closeAfterFlush && client.blockedSince == nil && !hasStreams(client.number)
    }

    func serviceDeadlines(now: MonotonicInstant) {
        for client in clients.values where !client.closing {
            if let blocked = client.blockedSince, blocked.adding(seconds: Self.stallTimeout) <= now {
                warnAboutClient("dropped control client \(client.number): it has not read its replies for \(Int(Self.stallTimeout))s")
                close(client)
            } else if isIdleCandidate(client), client.lastActivity.adding(seconds: Self.idleTimeout) <= now {
                finish(client.number, with: .error(id: nil, .idleTimeout(seconds: Self.idleTimeout)))
            }
        }
    }
}
