import Glibc
import Shared
import SupervisorCore

/// Everything between the master and its workers' processes: spawning them
/// (environment, listening sockets, output pipes, notify channel), hearing
/// what they say on their notify channel, capturing their output
/// (`WorkerOutputs`), and tracking their process groups until empty
/// (`ProcessGroupWatch`). What it hears that the core must know (ready,
/// watchdog) goes to `onEvent`; it decides nothing about processes itself.
final class WorkerIO {
    /// Events for the core: `.ready` and `.watchdog` from notify channels.
    var onEvent: (SupervisorEvent) -> Void = { _ in }

    let outputs: WorkerOutputs
    let groups: ProcessGroupWatch
    /// Each group's history and log files (`GroupLogs`).
    var logs: GroupLogs { outputs.logs }
    private let loop: EventLoop
    private let log: DaemonLog
    private let notifyChannels: NotifyChannels
    private let listeners: ListenerRegistry
    private var channelRegistrations: [Int32: EventLoop.Registration] = [:]
    /// What each worker last reported on its notify channel, by pid.
    private(set) var reports: [Int32: WorkerReport] = [:]
    private let notifyLogLimiter = RateLimiter(interval: 10)
    /// The uids of workers whose way to their notify socket was checked.
    private var checkedNotifyReach: Set<UInt32> = []
    /// The master's environment as children inherit it, read once: without
    /// NOTIFY_SOCKET, which belongs to whoever started the master (each child
    /// gets a notify socket of its own instead).
    private let inheritedEnvironment: [String: String] = ProcessEnvironment.current().filter { $0.key != "NOTIFY_SOCKET" }

    init(loop: EventLoop, logs: GroupLogs, notifyChannels: NotifyChannels, listeners: ListenerRegistry, orphanGuard: OrphanGuard,
         cgroups: CgroupTree?, fileReads: ParallelFileReader = ParallelFileReader()) {
        self.loop = loop
        self.log = logs.daemonLog
        self.notifyChannels = notifyChannels
        self.listeners = listeners
        self.outputs = WorkerOutputs(loop: loop, logs: logs)
        self.groups = ProcessGroupWatch(orphanGuard: orphanGuard, cgroups: cgroups, log: log, fileReads: fileReads)
    }

    var notifyChannelCount: Int { notifyChannels.count }

    /// A new loop turn: the notify channels' shared budget is full again.
    func startTurn() { notifyChannels.startTurn() }

    // MARK: - Spawning

    /// Starts the process for a slot and says how it went, as the event the
    /// core expects next.
    func spawn(_ order: SpawnOrder) -> SupervisorEvent {
        let group = order.config
        var environment = childEnvironment(for: order)
        guard let executable = resolve(group.command[0], cwd: group.cwd, path: environment["PATH"]) else {
            return .spawnFailed(order.worker, order.role, reason: "command '\(group.command[0])' not found or not executable")
        }
        let identity = Self.identityToTake(group.identity)
        let notifySocket: NotifyChannel
        do {
            notifySocket = try notifyChannels.makeChannel(for: identity)
        } catch {
            return .spawnFailed(order.worker, order.role, reason: "cannot make its notify socket: \(error)")
        }
        if let identity { warnIfNotifySocketUnreachable(by: identity, group: group.name) }
        environment["NOTIFY_SOCKET"] = notifySocket.path
        // A stream bound for a raw file goes into that file's pipe (`RawLogFile`), the others into pipes of their own.
        let streams: [LogEntry.Stream] = [.stdout, .stderr]
        let rawPipes = streams.map { logs.rawPipe(of: group.name, for: $0) }
        var pipes: [(read: Int32, write: Int32)?] = []
        var cgroup: WorkerCgroup?
        let pid: Int32
        do {
            for raw in rawPipes { pipes.append(raw == nil ? try Pipe.make() : nil) }
            let sockets = listeners.descriptors(for: group)
            cgroup = try groups.cgroups?.makeWorkerCgroup(id: order.worker.id, group: group)
            let procs = try cgroup?.openProcsForSpawn() ?? -1
            defer { if procs >= 0 { FileIO.close(procs) } }
            pid = try Spawner.spawn(SpawnRequest(
                executable: executable, arguments: group.command, environment: environment,
                ownPidVariables: group.watchdogSeconds == nil ? [] : ["WATCHDOG_PID"],
                workingDirectory: group.cwd, listenFDs: sockets.fds, listenNames: sockets.names,
                stdout: rawPipes[0] ?? pipes[0]!.write, stderr: rawPipes[1] ?? pipes[1]!.write, resourceLimits: group.resourceLimits,
                nice: group.nice, umask: group.umask, identity: identity, cgroupProcsFD: procs,
                orphanGuardFD: groups.orphanGuard.fd))
        } catch {
            for case let pipe? in pipes {
                FileIO.close(pipe.write)
                FileIO.close(pipe.read)
            }
            cgroup?.remove()
            notifyChannels.discard(notifySocket)
            return .spawnFailed(order.worker, order.role, reason: error.description)
        }
        // The process exists now: whatever fails from here on, it is
        // supervised (a spawn failure would respawn beside an unwatched child).
        let label = "\(order.worker)[\(pid)]"
        groups.leaderStarted(pid, label: label, order: order, cgroup: cgroup)
        listen(on: notifySocket, worker: order.worker, pid: pid)
        for case let (pipe?, stream) in zip(pipes, streams) {
            FileIO.close(pipe.write)
            outputs.capture(pipe.read, as: ChildOutput(worker: order.worker, pid: pid, stream: stream,
                                                       bytesPerSecond: group.outputBytesPerSecond))
        }
        return .spawned(order.worker, order.role, pid: pid)
    }

    /// The identity a child takes on: its group's `user` and `group`,
    /// unless they are appd's own and appd is not root, which could not
    /// call setgroups and would change nothing (a user change needs root:
    /// `ConfigLoader.privilegeProblems` refuses such a config). Root always
    /// takes the whole identity, so the supplementary groups are the user's.
    private static func identityToTake(_ identity: WorkerIdentity?) -> WorkerIdentity? {
        guard let identity, geteuid() != 0, identity.uid == geteuid(), identity.gid == getegid() else { return identity }
        return nil
    }

    /// Says once per user when a directory above the notify sockets keeps
    /// workers of that user from reaching theirs (appd opens only its own
    /// two: see `NotifyDirectory.handOver`): their READY=1 would fail with
    /// "permission denied", and a `notify` group would never get ready.
    private func warnIfNotifySocketUnreachable(by identity: WorkerIdentity, group: String) {
        guard !checkedNotifyReach.contains(identity.uid) else { return }
        checkedNotifyReach.insert(identity.uid)
        guard let blocking = notifyChannels.directory.firstDirectoryBlocking(identity) else { return }
        log.warning("group \(group) runs as \(identity.user) (uid \(identity.uid)), which cannot reach its notify socket: "
                    + "\(blocking.path) (mode 0\(String(blocking.mode, radix: 8)), owner uid \(blocking.owner)) has no search permission "
                    + "for it; give it one (chmod o+x \(blocking.path)) or move controlSocket")
    }

    /// The master's environment, without what describes the master's own
    /// activation, with the login variables of the group's `user`, plus the
    /// group's `envFile`s and `env` (its templates expanded for this worker)
    /// and the worker protocol variables (but NOTIFY_SOCKET, which `spawn`
    /// adds: each worker has its own).
    private func childEnvironment(for order: SpawnOrder) -> [String: String] {
        var environment = inheritedEnvironment
        for (name, value) in order.config.identity?.loginEnvironment ?? [:] { environment[name] = value }
        environment.merge(order.config.environment(forWorker: order.worker.id)) { _, group in group }
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

    /// argv[0] with a slash is a path (relative to the group's cwd); without
    /// one it is looked up in PATH, like a shell would.
    private func resolve(_ command: String, cwd: String, path: String?) -> String? {
        if command.contains("/"), !command.hasPrefix("/") {
            return Spawner.resolveExecutable(cwd + "/" + command, searchPath: nil)
        }
        return Spawner.resolveExecutable(command, searchPath: path)
    }

    // MARK: - Exits

    /// A child was reaped: the orphan guard, or a worker whose channel,
    /// report, output budget and process group are settled now, its last
    /// output read first (a reload it aborts reports it).
    func reaped(_ pid: Int32, status: ExitStatus, now: MonotonicInstant) -> ProcessGroupWatch.Reaped {
        let reaped = groups.reaped(pid, status: status, now: now)
        guard reaped != .orphanGuard else { return reaped }
        closeNotifyChannel(ofWorker: pid)
        reports[pid] = nil
        outputs.workerExited(pid)
        return reaped
    }

    /// Every worker has exited: what they left is killed, their pipes read
    /// to the end, their channels closed.
    func shutDown() {
        groups.killLeftoverChildren()
        outputs.drainAll()
        notifyChannels.removeAll()
    }

    // MARK: - Notify channels

    private func listen(on socket: NotifyChannel, worker: WorkerRef, pid: Int32) {
        notifyChannels.adopt(socket, worker: worker, pid: pid)
        do {
            channelRegistrations[socket.fd] = try loop.register(fd: socket.fd, interest: .readable) { [unowned self] _ in
                receive(onChannel: socket.fd)
            }
        } catch {
            log.error("worker \(worker)[\(pid)]: its notify socket is not watched, so it cannot report ready: \(error)")
        }
    }

    /// Reads what is waiting on one worker's channel, within the turn's
    /// budget (see `NotifyChannels`).
    private func receive(onChannel fd: Int32) {
        guard let channel = notifyChannels[fd] else { return }
        var read = 0
        defer { notifyChannels.spend(read) }
        let allowance = notifyChannels.allowance
        while read < allowance {
            let datagram: NotifyChannel.Datagram?
            do {
                datagram = try channel.socket.receive()
            } catch {
                log.error("notify socket of worker \(channel.worker)[\(channel.pid)]: \(error)")
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
        let label = "\(channel.worker)[\(worker)]"
        guard NotifyChannels.speaksForWorker(datagram, workerPid: worker, socketOwner: channel.socket.owner) else {
            complainAboutNotification(
                "ignored a notify datagram from pid \(datagram.pid) on the notify socket of worker \(label): "
                    + "the sender is neither that worker nor in its process group", now: now)
            return
        }
        let sender = datagram.pid == worker ? "worker \(label)" : "pid \(datagram.pid) of worker \(label)"
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
        if message.stopping { log.debug("worker \(label) says it is stopping") }
        if message.watchdog { onEvent(.watchdog(pid: worker)) }
        // Always the worker's pid, not the sender's: a helper speaks for it.
        if message.ready { onEvent(.ready(pid: worker)) }
    }

    /// Worker `pid` has been reaped: its channel is drained once more (what
    /// it or its group sent last is late, and ignored), closed and unlinked.
    /// A reaped pid that was no worker has no channel.
    private func closeNotifyChannel(ofWorker pid: Int32) {
        guard let channel = notifyChannels.release(worker: pid) else { return }
        // Bounded: the kernel queues few datagrams, but a group member left
        // behind could keep sending while this reads.
        for _ in 0..<NotifyChannels.datagramsPerTurn {
            guard let datagram = try? channel.socket.receive() else { break }
            log.debug("ignored a late notify datagram from pid \(datagram.pid) for worker \(channel.worker)[\(pid)], "
                      + "which has exited: \(String(decoding: datagram.payload.prefix(80), as: UTF8.self).debugDescription)")
        }
        if let registration = channelRegistrations.removeValue(forKey: channel.socket.fd) {
            loop.unregister(registration, fd: channel.socket.fd)
        }
        notifyChannels.discard(channel.socket)
    }

    private func complainAboutNotification(_ what: String, now: MonotonicInstant) {
        guard let suppressed = notifyLogLimiter.allow(now: now) else { return }
        let more = suppressed > 0 ? " (\(suppressed) more ignored since the last report)" : ""
        log.warning(what + more)
    }
}
