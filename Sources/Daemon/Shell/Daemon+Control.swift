import Glibc
import Shared

/// The control socket's connections: accepting (with the peer's uid
/// checked), reading request lines, queueing replies, dropping clients that
/// misbehave. Nothing here blocks: a silent, slow or hostile client costs a
/// buffer and is cut off, while supervision goes on.
extension Daemon {
    /// Seconds a client may stay connected without a request or a stream.
    static let controlIdleTimeout = 30.0
    /// More concurrent clients than this are told `busy` and closed.
    static let maximumControlClients = 1000

    func acceptControlClients() {
        while true {
            let fd: Int32
            do {
                guard let accepted = try control.accept() else { return }
                fd = accepted
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
                log.warning("refused a control client with uid \(uid)")
                finish(client, with: .error(id: nil, .forbidden(uid: uid)))
                continue
            }
            if clients.count > Self.maximumControlClients {
                finish(client, with: .error(id: nil, ProtocolError(.busy, "too many control clients (\(Self.maximumControlClients)); try again")))
            }
        }
    }

    func serviceControlClient(_ number: Int32, event: EventPoll.Event) {
        guard let client = clients[number] else { return }
        if event.writable { flush(client) }
        if event.readable || event.hangup || event.error, clients[number] != nil { readRequests(client) }
    }

    private func readRequests(_ client: ControlClient) {
        switch FileIO.read(client.fd, max: 64 * 1024) {
        case .wouldBlock:
            return
        case .endOfFile, .failed:
            closeClient(client.number)
            return
        case .bytes(let bytes):
            guard !client.closeAfterFlush else { return }  // Its last word was said.
            client.framer.append(bytes)
        }
        while clients[client.number] != nil, !client.closeAfterFlush {
            let line: [UInt8]?
            do {
                line = try client.framer.nextLine()
            } catch {
                finish(client, with: .error(id: nil, .lineTooLarge(limit: LineFramer.protocolLineLimit)))
                return
            }
            guard let line else { return }
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
            if client.closeAfterFlush {
                closeClient(client.number)
            } else if client.waitingToWrite {
                client.waitingToWrite = false
                try? poll.modify(fd: client.fd, events: .readable, token: Source.controlClient.token(client.number))
            }
        case .blocked:
            if !client.waitingToWrite {
                client.waitingToWrite = true
                try? poll.modify(fd: client.fd, events: [.readable, .writable], token: Source.controlClient.token(client.number))
            }
        case .failed(let reason):
            log.warning("dropped control client \(client.number): \(reason)")
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

    // MARK: - Deadlines: watch intervals and idle timeouts

    var nextControlDeadline: MonotonicInstant? {
        let watches = streams.watchers.map(\.next)
        let idle = clients.values.filter { !streams.hasStreams(client: $0.number) && !$0.closeAfterFlush }
            .map { $0.lastActivity.adding(seconds: Self.controlIdleTimeout) }
        return (watches + idle).min()
    }

    func serviceControlDeadlines(now: MonotonicInstant) {
        // Over a copy: a send that drops its client removes that client's watchers.
        for watcher in streams.watchers where watcher.next <= now {
            guard let index = streams.watchers.firstIndex(where: { $0.client == watcher.client && $0.request == watcher.request }) else { continue }
            streams.watchers[index].next = now.adding(seconds: watcher.interval)
            sendStatus(group: watcher.group, request: watcher.request, to: watcher.client, endMarker: true)
        }
        for client in Array(clients.values) where !streams.hasStreams(client: client.number) && !client.closeAfterFlush
            && client.lastActivity.adding(seconds: Self.controlIdleTimeout) <= now {
            finish(client, with: .error(id: nil, .idleTimeout(seconds: Self.controlIdleTimeout)))
        }
    }
}
