import Glibc
import Shared
import SupervisorCore

/// The control socket's connections: accepting (with the peer's uid
/// checked), reading request lines, queueing replies, dropping clients that
/// misbehave. Nothing here blocks: a silent, slow or hostile client costs a
/// buffer and is cut off, while supervision goes on.
extension Daemon {
    /// Seconds a client may stay connected without a request or a stream.
    static let controlIdleTimeout = 30.0
    /// Seconds a client may leave its replies unread before it is dropped.
    static let controlStallTimeout = 10.0
    /// More concurrent clients than this are told `busy` and closed.
    static let maximumControlClients = 1000
    /// Requests handled per client per loop turn, so one client pipelining
    /// thousands cannot hold up the others, the children or the signals.
    static let requestsPerTurn = 32

    func acceptControlClients() {
        while true {
            let fd: Int32
            do {
                guard let accepted = try control.accept() else { return }
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
                try poll.add(fd: fd, events: .readable, token: Source.controlClient.token(client.number))
            } catch {
                log.error("control client: \(error)")
                closeClient(client.number)
                continue
            }
            guard let peer = UnixControlListener.peerCredentials(fd), peer.uid == 0 || peer.uid == geteuid() else {
                let uid = UnixControlListener.peerCredentials(fd)?.uid ?? UInt32.max
                warnAboutClient("refused a control client with uid \(uid)")
                finish(client, with: .error(id: nil, .forbidden(uid: uid)))
                continue
            }
            if clients.count > Self.maximumControlClients {
                finish(client, with: .error(id: nil, ProtocolError(.busy, "too many control clients (\(Self.maximumControlClients)); try again")))
            }
        }
    }

    /// Out of descriptors: the waiting connection would keep the listener
    /// readable and the loop spinning. The spare descriptor kept for this
    /// moment is given up to accept it and close it at once.
    private func shedClientWithoutDescriptors() {
        FileIO.close(spareDescriptor)
        if let fd = try? control.accept() { FileIO.close(fd) }
        spareDescriptor = Self.openSpareDescriptor()
        if let suppressed = descriptorLogLimiter.allow(now: .now()) {
            log.error("out of file descriptors: refused a control client"
                + (suppressed > 0 ? " (and \(suppressed) more since the last report)" : ""))
        }
    }

    /// Rate-limited: a thousand clients that hang up at once are one line,
    /// not a thousand (each costs a write on the supervision path).
    func warnAboutClient(_ what: String) {
        guard let suppressed = clientLogLimiter.allow(now: .now()) else { return }
        log.warning(what + (suppressed > 0 ? " (and \(suppressed) more since the last report)" : ""))
    }

    /// A descriptor held in reserve for `shedClientWithoutDescriptors`.
    static func openSpareDescriptor() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    func serviceControlClient(_ number: Int32, event: EventPoll.Event) {
        guard let client = clients[number] else { return }
        if event.writable { flush(client) }
        guard clients[number] != nil else { return }
        if client.readClosed {
            // Half-closed earlier; EPOLLHUP now means it is gone altogether
            // (epoll reports it whatever the interest), streams and all.
            if event.hangup || event.error { closeClient(number) }
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
            closeClient(client.number)
            return
        case .endOfFile where peerGone:
            closeClient(client.number)
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

    /// Handles up to `requestsPerTurn` complete lines; the rest wait for the
    /// next turn (`hasUnhandledLines` keeps the loop from sleeping meanwhile).
    /// A half-closed client is closed only once every request it sent is
    /// answered, however many it pipelined.
    func handleRequests(_ client: ControlClient) {
        // Set while lines are being handled, so that a reply flushed in the
        // middle does not close a half-closed client with requests left.
        client.hasUnhandledLines = true
        for _ in 0..<Self.requestsPerTurn {
            guard clients[client.number] != nil, !client.closeAfterFlush else {
                client.hasUnhandledLines = false
                return
            }
            let line: [UInt8]?
            do {
                line = try client.framer.nextLine()
            } catch {
                client.hasUnhandledLines = false
                finish(client, with: .error(id: nil, .lineTooLarge(limit: LineFramer.protocolLineLimit)))
                return
            }
            guard let line else {
                client.hasUnhandledLines = false
                closeIfDone(client)
                return
            }
            client.lastActivity = .now()
            do {
                execute(try ControlRequest(line: line), from: client.number)
            } catch {
                send(error.reply, to: client.number)
            }
        }
    }

    /// Queues a reply for a client; a client that cannot take it is dropped.
    func send(_ reply: ControlReply, to number: Int32) { send(CollectionOfOne(reply), to: number) }

    /// Queues replies to leave in one write.
    func send(_ replies: some Sequence<ControlReply>, to number: Int32) {
        guard let client = clients[number] else { return }
        handle(client.send(replies), for: client)
    }

    /// Sends a last reply, then closes once it is written.
    func finish(_ client: ControlClient, with reply: ControlReply) {
        client.closeAfterFlush = true
        streams.forget(client: client.number)
        handle(client.send(CollectionOfOne(reply)), for: client)
    }

    private func flush(_ client: ControlClient) { handle(client.flush(), for: client) }

    private func handle(_ outcome: ControlClient.Outcome, for client: ControlClient) {
        switch outcome {
        case .flushed:
            client.blockedSince = nil
            if client.waitingToWrite {
                client.waitingToWrite = false
                updateInterest(client)
            }
            if client.closeAfterFlush { closeClient(client.number) } else { closeIfDone(client) }
        case .blocked:
            if client.blockedSince == nil { client.blockedSince = .now() }
            if !client.waitingToWrite {
                client.waitingToWrite = true
                updateInterest(client)
            }
        case .failed(let reason):
            warnAboutClient("dropped control client \(client.number): \(reason)")
            closeClient(client.number)
        }
    }

    /// Readable until the client's EOF, writable while replies wait.
    private func updateInterest(_ client: ControlClient) {
        var interest: EventPoll.Interest = []
        if !client.readClosed { interest.insert(.readable) }
        if client.waitingToWrite { interest.insert(.writable) }
        try? poll.modify(fd: client.fd, events: interest, token: Source.controlClient.token(client.number))
    }

    /// A half-closed client goes once it is owed nothing more.
    func closeIfDone(_ client: ControlClient) {
        if client.readClosed, !client.hasUnhandledLines, client.pendingBytes == 0, !streams.hasStreams(client: client.number) {
            closeClient(client.number)
        }
    }

    func closeClient(_ number: Int32) {
        guard let client = clients.removeValue(forKey: number) else { return }
        streams.forget(client: number)
        try? poll.remove(fd: client.fd)
        FileIO.close(client.fd)
    }

    /// At exit: a last chance for queued replies (such as the answer to
    /// `stop`), without waiting on anyone.
    func closeControlClients() {
        for client in clients.values { _ = client.flush() }
        for number in Array(clients.keys) { closeClient(number) }
    }

    // MARK: - Deadlines: watch intervals, idle and stalled clients

    /// `status --watch` snapshots: one sample of /proc per group filter and
    /// tick, shared by every watcher due, instead of one per client (ten
    /// watchers of 1000 workers read /proc ten times over, and each read
    /// reset the others' CPU % deltas). A watcher of the same filter and
    /// interval due within half an interval rides along, so watchers that
    /// started at different moments fall into step.
    private func sendDueSnapshots(now: MonotonicInstant) {
        let due = streams.watchers.filter { $0.next <= now }
        guard !due.isEmpty else { return }
        var served: [(client: Int32, request: Int, group: String?)] = []
        for watcher in streams.watchers {
            let riding = due.contains { $0.group == watcher.group && $0.interval == watcher.interval }
                && watcher.next <= now.adding(seconds: watcher.interval / 2)
            if watcher.next <= now || riding { served.append((watcher.client, watcher.request, watcher.group)) }
        }
        for index in streams.watchers.indices where served.contains(where: {
            $0.client == streams.watchers[index].client && $0.request == streams.watchers[index].request
        }) {
            streams.watchers[index].next = now.adding(seconds: streams.watchers[index].interval)
        }
        var snapshots: [String?: StatusReport] = [:]
        for watcher in served {
            let report = snapshots[watcher.group] ?? statusReport(group: watcher.group)
            snapshots[watcher.group] = report
            // A send can drop its client (and its watchers): the rest go on.
            guard let master = report.master else { continue }
            send([.item(id: watcher.request, .master(master))] + report.processes.map { .item(id: watcher.request, .process($0)) }
                 + [.item(id: watcher.request, .snapshotEnd(SnapshotEnd(processes: report.processes.count)))], to: watcher.client)
        }
    }

    var nextControlDeadline: MonotonicInstant? {
        var deadlines = streams.watchers.map(\.next)
        for client in clients.values {
            if let blocked = client.blockedSince { deadlines.append(blocked.adding(seconds: Self.controlStallTimeout)) }
            if isIdleCandidate(client) { deadlines.append(client.lastActivity.adding(seconds: Self.controlIdleTimeout)) }
        }
        return deadlines.min()
    }

    /// A client with nothing in flight: no stream, no unsent reply.
    private func isIdleCandidate(_ client: ControlClient) -> Bool {
        !client.closeAfterFlush && client.blockedSince == nil && !streams.hasStreams(client: client.number)
    }

    func serviceControlDeadlines(now: MonotonicInstant) {
        sendDueSnapshots(now: now)
        for client in Array(clients.values) {
            if let blocked = client.blockedSince, blocked.adding(seconds: Self.controlStallTimeout) <= now {
                warnAboutClient("dropped control client \(client.number): it has not read its replies for \(Int(Self.controlStallTimeout))s")
                closeClient(client.number)
            } else if isIdleCandidate(client), client.lastActivity.adding(seconds: Self.controlIdleTimeout) <= now {
                finish(client, with: .error(id: nil, .idleTimeout(seconds: Self.controlIdleTimeout)))
            }
        }
    }
}
