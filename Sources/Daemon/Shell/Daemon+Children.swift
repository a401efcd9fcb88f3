import Glibc
import Shared

/// Starting children, capturing their output, hearing their notifications.
extension Daemon {
    /// Starts the process for a slot and says how it went, as the event the
    /// core expects next.
    func spawn(_ order: SpawnOrder) -> SupervisorEvent {
        let group = order.config
        let environment = childEnvironment(for: order)
        guard let executable = resolve(group.command[0], cwd: group.cwd, path: environment["PATH"]) else {
            return .spawnFailed(order.worker, order.role, reason: "command '\(group.command[0])' not found or not executable")
        }
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
                stdout: pipes[0].write, stderr: pipes[1].write))
        } catch {
            for pipe in pipes {
                FileIO.close(pipe.write)
                FileIO.close(pipe.read)
            }
            return .spawnFailed(order.worker, order.role, reason: error.description)
        }
        // The process exists now: whatever fails from here on, it is
        // supervised (a spawn failure would respawn beside an unwatched child).
        orphanGuard.workerStarted(pid)
        guardedGroups.insert(pid)
        for (pipe, stream) in zip(pipes, [LogEntry.Stream.stdout, .stderr]) {
            FileIO.close(pipe.write)
            do {
                try poll.add(fd: pipe.read, events: .readable, token: Source.childOutput.token(pipe.read))
                outputs[pipe.read] = ChildOutput(worker: order.worker, pid: pid, stream: stream)
            } catch {
                log.error("worker \(order.worker) pid \(pid): its \(stream.rawValue) is not captured: \(error)")
                FileIO.close(pipe.read)
            }
        }
        return .spawned(order.worker, order.role, pid: pid)
    }

    /// The master's environment, without what describes the master's own
    /// activation, plus the group's `env` and the worker protocol variables.
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
        environment["NOTIFY_SOCKET"] = notify.path
        return environment
    }

    /// argv[0] with a slash is a path (relative to the group's cwd); without
    /// one it is looked up in PATH, like a shell would.
    private func resolve(_ command: String, cwd: String, path: String?) -> String? {
        if command.contains("/"), !command.hasPrefix("/") {
            return Spawner.resolveExecutable(cwd + "/" + command, searchPath: nil)
        }
        return Spawner.resolveExecutable(command, searchPath: path)
    }

    func readChildOutput(fd: Int32) {
        guard outputs[fd] != nil else { return }
        switch FileIO.read(fd, max: 64 * 1024) {
        case .bytes(let bytes):
            for line in outputs[fd]!.append(bytes) { logChildLine(fd, line) }
        case .wouldBlock:
            return
        case .endOfFile, .failed:
            closeChildOutput(fd: fd)
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

    /// Into the daemon's log, the `logs` backlog, and to `logs --follow` clients.
    private func record(_ line: String, from output: ChildOutput) {
        log.childLine(output.label, stream: output.stream.rawValue, line)
        let entry = LogEntry(time: WallClock.now().seconds, group: output.worker.group, id: output.worker.id,
                             pid: output.pid, stream: output.stream, line: line)
        outputBacklog.append(entry)
        for follower in streams.logFollowers where follower.group == nil || follower.group == entry.group {
            send(.item(id: follower.request, .log(entry)), to: follower.client)
        }
    }

    /// Reads every pending datagram. Only live workers are heard, identified
    /// by the kernel-supplied sender pid, never by what the message claims.
    func receiveNotifications() {
        // A batch per turn: workers flooding the socket cannot hold up the
        // rest of the loop (what is left makes the socket readable again).
        for _ in 0..<64 {
            let datagram: NotifySocket.Datagram?
            do {
                datagram = try notify.receive()
            } catch {
                log.error("notify socket: \(error)")
                return
            }
            guard let datagram else { return }
            let now = MonotonicInstant.now()
            guard supervisor.owner(of: datagram.pid) != nil else {
                complainAboutNotification("ignored a notify datagram from pid \(datagram.pid), which is not a worker", now: now)
                continue
            }
            guard !datagram.truncated else {
                complainAboutNotification("ignored a notify datagram from pid \(datagram.pid) longer than \(NotifySocket.maximumDatagram) bytes", now: now)
                continue
            }
            let message = NotifyMessage(datagram: datagram.payload)
            if !message.problems.isEmpty {
                let problems = message.problems.map(\.description).joined(separator: "; ")
                complainAboutNotification("ignored lines of a notify datagram from pid \(datagram.pid): \(problems)", now: now)
            }
            reports[datagram.pid, default: WorkerReport()].merge(message)
            if message.ready { perform(supervisor.handle(.ready(pid: datagram.pid), now: now)) }
            if message.watchdog { perform(supervisor.handle(.watchdog(pid: datagram.pid), now: now)) }
        }
    }

    private func complainAboutNotification(_ what: String, now: MonotonicInstant) {
        guard let suppressed = notifyLogLimiter.allow(now: now) else { return }
        let more = suppressed > 0 ? " (\(suppressed) more ignored since the last report)" : ""
        log.warning(what + more)
    }
}
