import Glibc
import Shared
import SupervisorCore

/// Starting children, capturing their output, hearing their notifications.
extension Daemon {
    /// Starts the process for a slot and says how it went, as the event the
    /// core expects next.
    func spawn(_ order: SpawnOrder) -> SupervisorEvent {
        let group = order.config
        var environment = childEnvironment(for: order)
        guard let executable = resolve(group.command[0], cwd: group.cwd, path: environment["PATH"]) else {
            return .spawnFailed(order.worker, order.role, reason: "command '\(group.command[0])' not found or not executable")
        }
        let notifySocket: NotifyChannel
        do {
            notifySocket = try openNotifyChannel()
        } catch {
            return .spawnFailed(order.worker, order.role, reason: "cannot make its notify socket: \(error)")
        }
        environment["NOTIFY_SOCKET"] = notifySocket.path
        var pipes: [(read: Int32, write: Int32)] = []
        let pid: Int32
        do {
            pipes.append(try Pipe.make())
            pipes.append(try Pipe.make())
            let sockets = listeners.descriptors(for: group)
            pid = try Spawner.spawn(SpawnRequest(
                executable: executable, arguments: group.command, environment: environment,
                ownPidVariables: group.watchdogSeconds == nil ? [] : ["WATCHDOG_PID"],
                workingDirectory: group.cwd, listenFDs: sockets.fds, listenNames: sockets.names,
                stdout: pipes[0].write, stderr: pipes[1].write, orphanGuardFD: orphanGuard.fd))
        } catch {
            for pipe in pipes {
                FileIO.close(pipe.write)
                FileIO.close(pipe.read)
            }
            try? poll.remove(fd: notifySocket.fd)
            notifyChannels.discard(notifySocket)
            return .spawnFailed(order.worker, order.role, reason: error.description)
        }
        // The process exists now: whatever fails from here on, it is
        // supervised (a spawn failure would respawn beside an unwatched child).
        notifyChannels.adopt(notifySocket, worker: order.worker, pid: pid)
        // The child listed its process group with the orphan guard itself,
        // before it ran the program (cs_spawn): nothing it forks at once
        // outlives a master killed before this line.
        guardedGroups.insert(pid)
        for (pipe, stream) in zip(pipes, [LogEntry.Stream.stdout, .stderr]) {
            FileIO.close(pipe.write)
            do {
                try poll.add(fd: pipe.read, events: .readable, token: Source.childOutput.token(pipe.read))
                outputs[pipe.read] = ChildOutput(worker: order.worker, pid: pid, stream: stream,
                                                 bytesPerSecond: group.outputBytesPerSecond)
            } catch {
                log.error("worker \(order.worker) pid \(pid): its \(stream.rawValue) is not captured: \(error)")
                FileIO.close(pipe.read)
            }
        }
        return .spawned(order.worker, order.role, pid: pid)
    }

    /// The master's environment, without what describes the master's own
    /// activation, plus the group's `env` and the worker protocol variables
    /// (but NOTIFY_SOCKET, which `spawn` adds: each worker has its own).
    private func childEnvironment(for order: SpawnOrder) -> [String: String] {
        var environment = inheritedEnvironment
        environment.merge(order.config.env) { _, group in group }
        environment["APP_GROUP"] = order.worker.group
        environment["APP_WORKER_ID"] = String(order.worker.id)
        environment["APP_WORKER_GENERATION"] = String(order.generation)
        environment["APP_MASTER_PID"] = String(getpid())
        if let seconds = order.config.watchdogSeconds {
            environment["WATCHDOG_USEC"] = String(UInt64(seconds * 1_000_000))
        } else {
            environment["WATCHDOG_USEC"] = nil
            environment["WATCHDOG_PID"] = nil
        }
        return environment
    }

    /// A new notify channel, watched by the loop, for a worker about to be
    /// spawned.
    private func openNotifyChannel() throws(SystemError) -> NotifyChannel {
        let socket = try notifyChannels.makeChannel()
        do {
            try poll.add(fd: socket.fd, events: .readable, token: Source.notify.token(socket.fd))
        } catch {
            notifyChannels.discard(socket)
            throw error
        }
        return socket
    }

    /// argv[0] with a slash is a path (relative to the group's cwd); without
    /// one it is looked up in PATH, like a shell would.
    private func resolve(_ command: String, cwd: String, path: String?) -> String? {
        if command.contains("/"), !command.hasPrefix("/") {
            return Spawner.resolveExecutable(cwd + "/" + command, searchPath: nil)
        }
        return Spawner.resolveExecutable(command, searchPath: path)
    }

    /// Bytes read from one output pipe per loop turn: a worker printing
    /// short lines as fast as it can hands the master thousands of lines
    /// per read, and each costs a log line; what is left waits in the pipe
    /// (the worker blocks on a full pipe) for the next turn.
    static let outputBytesPerTurn = 8 * 1024

    func readChildOutput(fd: Int32) {
        guard outputs[fd] != nil else { return }
        switch FileIO.read(fd, max: Self.outputBytesPerTurn) {
        case .bytes(let bytes):
            for line in outputs[fd]!.append(bytes) { logChildLine(fd, line) }
        case .wouldBlock:
            return
        case .endOfFile, .failed:
            closeChildOutput(fd: fd)
        }
    }

    /// Reads what an exited worker left in its pipes, so its last lines are
    /// in the backlog before its exit is handled. Bounded: a descendant may
    /// still hold the pipe and write on; the loop reads the rest and closes
    /// the pipe at EOF.
    func readOutputLeft(byWorker pid: Int32) {
        for (fd, output) in outputs where output.pid == pid {
            for _ in 0..<16 {
                guard outputs[fd] != nil, case .bytes(let bytes) = FileIO.read(fd, max: 64 * 1024) else { break }
                for line in outputs[fd]!.append(bytes) { logChildLine(fd, line) }
            }
        }
    }

    /// Reads what is left in a pipe before the daemon exits.
    func drainChildOutput(fd: Int32) {
        while case .bytes(let bytes) = FileIO.read(fd, max: 64 * 1024), outputs[fd] != nil {
            for line in outputs[fd]!.append(bytes) { logChildLine(fd, line) }
        }
        closeChildOutput(fd: fd)
    }

    private func closeChildOutput(fd: Int32) {
        guard var output = outputs.removeValue(forKey: fd) else { return }
        if let rest = output.finish() { record(rest, from: output) }
        try? poll.remove(fd: fd)
        FileIO.close(fd)
    }

    private func logChildLine(_ fd: Int32, _ line: String) {
        guard let output = outputs[fd] else { return }
        record(line, from: output)
    }

    /// Into the daemon's log, the `logs` backlog, and to `logs --follow`
    /// clients, within the worker's output budget (`OutputBudget`).
    private func record(_ line: String, from output: ChildOutput) {
        if output.bytesPerSecond > 0 {
            let now = MonotonicInstant.now()
            var budget = outputBudgets[output.pid]
                ?? OutputBudget(worker: output.label, bytesPerSecond: output.bytesPerSecond, now: now)
            let verdict = budget.admit(bytes: line.utf8.count + 1, now: now)
            outputBudgets[output.pid] = budget
            switch verdict {
            case .keep: break
            case .drop: return
            case .keepAfterDropping(let dropped): tellDropped(dropped, by: budget)
            }
        }
        log.childLine(output.label, stream: output.stream.rawValue, line)
        let entry = LogEntry(time: WallClock.now().seconds, group: output.worker.group, id: output.worker.id,
                             pid: output.pid, stream: output.stream, line: line)
        outputBacklog.append(entry)
        for follower in streams.logFollowers where follower.group == nil || follower.group == entry.group {
            send(.item(id: follower.request, .log(entry)), to: follower.client)
        }
    }

    /// The marker in place of the lines an output budget dropped.
    private func tellDropped(_ count: Int, by budget: OutputBudget) {
        let limit = HumanFormat.bytes(UInt64(budget.bytesPerSecond))
        log.warning("worker \(budget.worker): \(counted(count, "line", "lines")) of output dropped, over its limit of \(limit)/s (outputBytesPerSecond)")
    }

    /// A reaped worker's budget goes, telling what it still had dropped.
    func forgetOutputBudget(ofWorker pid: Int32) {
        guard var budget = outputBudgets.removeValue(forKey: pid) else { return }
        let dropped = budget.takeDropped()
        if dropped > 0 { tellDropped(dropped, by: budget) }
    }

    /// Reads what is waiting on one worker's channel, within the turn's
    /// budget (see `NotifyChannels`).
    func receiveNotifications(channel fd: Int32) {
        guard let channel = notifyChannels[fd] else { return }
        var read = 0
        defer { notifyChannels.spend(read) }
        let allowance = notifyChannels.allowance
        while read < allowance {
            let datagram: NotifyChannel.Datagram?
            do {
                datagram = try channel.socket.receive()
            } catch {
                log.error("notify socket of worker \(channel.worker) pid \(channel.pid): \(error)")
                return
            }
            guard let datagram else { return }
            read += 1
            hear(datagram, on: channel, now: MonotonicInstant.now())
        }
    }

    /// One datagram on a live worker's channel. Who sent it decides whether
    /// it counts (`NotifyChannels.speaksForWorker`); when it does, it counts
    /// for the channel's worker, whichever process of its group sent it.
    private func hear(_ datagram: NotifyChannel.Datagram, on channel: NotifyChannels.Channel, now: MonotonicInstant) {
        let worker = channel.pid
        guard NotifyChannels.speaksForWorker(datagram, workerPid: worker, masterUID: geteuid()) else {
            complainAboutNotification(
                "ignored a notify datagram from pid \(datagram.pid) on the notify socket of worker \(channel.worker) pid \(worker): "
                    + "the sender is neither that worker nor in its process group", now: now)
            return
        }
        let sender = datagram.pid == worker ? "pid \(worker)" : "pid \(datagram.pid) of worker \(channel.worker) pid \(worker)"
        guard !datagram.truncated else {
            complainAboutNotification("ignored a notify datagram from \(sender) longer than \(NotifyChannel.maximumDatagram) bytes", now: now)
            return
        }
        let message = NotifyMessage(datagram: datagram.payload)
        if !message.problems.isEmpty {
            let problems = message.problems.map(\.description).joined(separator: "; ")
            complainAboutNotification("ignored lines of a notify datagram from \(sender): \(problems)", now: now)
        }
        reports[worker, default: WorkerReport()].merge(message)
        if message.stopping { log.debug("worker \(channel.worker) pid \(worker) says it is stopping") }
        if message.watchdog { perform(supervisor.handle(.watchdog(pid: worker), now: now)) }
        // Always the worker's pid, not the sender's: a helper speaks for it.
        if message.ready { perform(supervisor.handle(.ready(pid: worker), now: now)) }
    }

    /// Worker `pid` has been reaped: its channel is drained once more (what
    /// it or its group sent last is late, and ignored), closed and unlinked.
    /// A reaped pid that was no worker has no channel.
    func closeNotifyChannel(ofWorker pid: Int32) {
        guard let channel = notifyChannels.release(worker: pid) else { return }
        // Bounded: the kernel queues few datagrams, but a group member left
        // behind could keep sending while this reads.
        for _ in 0..<NotifyChannels.datagramsPerTurn {
            guard let datagram = try? channel.socket.receive() else { break }
            log.debug("ignored a late notify datagram from pid \(datagram.pid) for worker \(channel.worker) pid \(pid), "
                      + "which has exited: \(String(decoding: datagram.payload.prefix(80), as: UTF8.self).debugDescription)")
        }
        try? poll.remove(fd: channel.socket.fd)
        notifyChannels.discard(channel.socket)
    }

    private func complainAboutNotification(_ what: String, now: MonotonicInstant) {
        guard let suppressed = notifyLogLimiter.allow(now: now) else { return }
        let more = suppressed > 0 ? " (\(suppressed) more ignored since the last report)" : ""
        log.warning(what + more)
    }
}
