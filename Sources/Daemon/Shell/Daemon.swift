import Glibc
import Shared
import SupervisorCore

/// The I/O shell around the pure `Supervisor`: one thread, one epoll loop.
///
/// Every source of events is a file descriptor in the same loop: a signalfd
/// (signals are blocked before any thread exists and nothing runs in signal
/// handlers), one timerfd armed for the core's nearest deadline, each
/// worker's notify socket, the control socket and its clients, and each
/// child's output pipes. An idle master therefore sleeps in `epoll_wait`
/// with no timeout and makes no system call at all.
final class Daemon {
    /// What an epoll token stands for: the kind in the high bits, an fd or
    /// client number in the low ones.
    enum Source: UInt64 {
        case signals = 1, timer, notify, controlListener, childOutput, controlClient

        func token(_ value: Int32 = 0) -> UInt64 { rawValue << 32 | UInt64(UInt32(bitPattern: value)) }

        static func decode(_ token: UInt64) -> (Source, Int32)? {
            Source(rawValue: token >> 32).map { ($0, Int32(bitPattern: UInt32(truncatingIfNeeded: token))) }
        }
    }

    var supervisor: Supervisor
    var config: DaemonConfig
    let log: DaemonLog
    let poll: EventPoll
    let signals: SignalChannel
    let timer: DeadlineTimer
    let notifyChannels: NotifyChannels
    let control: UnixControlListener
    let listeners: ListenerRegistry
    let pidFile: PidFileLock
    let socketLock: PidFileLock
    var orphanGuard: OrphanGuard
    /// Live workers' process groups, as told to the orphan guard.
    var guardedGroups: Set<Int32> = []
    /// Exited workers' process groups that still have members.
    var lingering = LingeringGroups()
    let startedAt = WallClock.now()
    /// Output pipes of children, by read fd.
    var outputs: [Int32: ChildOutput] = [:]
    /// What each worker last reported on the notify socket, by pid.
    var reports: [Int32: WorkerReport] = [:]
    var armedDeadline: MonotonicInstant?
    /// A reload signal arrived while a reload ran; it runs when that ends.
    var reloadQueued = false
    /// Control connections, by client number (the low half of their epoll token).
    var clients: [Int32: ControlClient] = [:]
    var nextClientNumber: Int32 = 0
    /// Requests still streaming: reloads, group stops, watches, log follows.
    var streams = ControlStreams()
    var outputBacklog = OutputBacklog(capacity: 2000)
    /// Each worker's output budget, by pid (`OutputBudget`).
    var outputBudgets: [Int32: OutputBudget] = [:]
    /// Spawn orders waiting for their turn (`runPendingSpawns`).
    var pendingSpawns = SpawnQueue()
    /// Exits may be left to reap: the last `reapChildren` used its budget.
    var reapPending = false
    /// Keeps the previous CPU sample of each worker, so CPU % is a delta
    /// between two requests rather than a sleep inside one.
    var statsCollector = WorkerStatsCollector()
    /// Given up to shed a client when descriptors run out (see `acceptControlClients`).
    var spareDescriptor = Daemon.openSpareDescriptor()
    let descriptorLogLimiter = RateLimiter(interval: 10)
    let clientLogLimiter = RateLimiter(interval: 10)
    /// Set by the `.exit` effect: the loop ends and `run` returns it.
    var exitCode: Int32?
    let notifyLogLimiter = RateLimiter(interval: 10)
    /// The master's environment as children inherit it, read once: without
    /// NOTIFY_SOCKET, which belongs to whoever started the master (each child
    /// gets a notify socket of its own instead).
    let inheritedEnvironment: [String: String] = ProcessEnvironment.current().filter { $0.key != "NOTIFY_SOCKET" }

    /// Command-line overrides, applied again to every re-read config.
    let options: DaemonOptions
    let startDirectory: String

    init(config: DaemonConfig, options: DaemonOptions, startDirectory: String, log: DaemonLog, resources: DaemonResources) {
        self.config = config
        self.options = options
        self.startDirectory = startDirectory
        self.log = log
        self.poll = resources.poll
        self.signals = resources.signals
        self.timer = resources.timer
        self.notifyChannels = resources.notifyChannels
        self.control = resources.control
        self.listeners = resources.listeners
        self.pidFile = resources.pidFile
        self.socketLock = resources.socketLock
        self.orphanGuard = resources.orphanGuard
        self.supervisor = Supervisor(config: config)
    }

    /// Runs until every worker has exited after a stop; returns the exit
    /// code. `onStarted` runs once the first processes are spawned and the
    /// control socket accepts (it tells `--daemonize` and systemd).
    func run(onStarted: () -> Void) throws(SystemError) -> Int32 {
        try poll.add(fd: signals.fd, events: .readable, token: Source.signals.token())
        try poll.add(fd: timer.fd, events: .readable, token: Source.timer.token())
        try poll.add(fd: control.fd, events: .readable, token: Source.controlListener.token())
        log.info(startLine)
        perform(supervisor.start(now: .now()))
        onStarted()
        while exitCode == nil {
            rearmTimer()
            // Work left over from the last turn (client requests, spawns,
            // exits beyond their budget): look at the descriptors without
            // sleeping, then do the next slice of it.
            let unhandled = clients.values.filter(\.hasUnhandledLines)
            let leftOver = !unhandled.isEmpty || !pendingSpawns.isEmpty || reapPending
            notifyChannels.startTurn()
            for event in try poll.wait(timeoutMilliseconds: leftOver ? 0 : -1) {
                guard let (source, value) = Source.decode(event.token) else { continue }
                switch source {
                case .signals: handleSignals()
                case .timer:
                    _ = timer.acknowledge()
                    armedDeadline = nil
                    perform(supervisor.handle(.deadlinesDue, now: .now()))
                    serviceControlDeadlines(now: .now())
                    killLingeringGroups(now: .now())
                case .notify: receiveNotifications(channel: value)
                case .controlListener: acceptControlClients()
                case .childOutput: readChildOutput(fd: value)
                case .controlClient: serviceControlClient(value, event: event)
                }
                if exitCode != nil { break }
            }
            for client in unhandled where exitCode == nil && clients[client.number] === client && client.hasUnhandledLines {
                handleRequests(client)
            }
            if reapPending, exitCode == nil { reapChildren() }
            if exitCode == nil { runPendingSpawns() }
            runQueuedReload()
        }
        shutDown()
        return exitCode ?? 0
    }

    /// Spawns carried out per loop turn. A fork and exec costs the master
    /// 0.2–3 ms; `scale web 5000` or a restart storm must not hold up
    /// signals, control clients and exits for seconds: the rest wait for the
    /// next turn, and the loop does not sleep while any wait.
    static let spawnsPerTurn = 16
    /// Exits reaped per loop turn, for the same reason: each may respawn.
    static let reapsPerTurn = 64

    /// Starts the next slice of queued spawns. A spawn the core no longer
    /// wants (its slot was stopped meanwhile) is cancelled, not carried out.
    func runPendingSpawns() {
        for _ in 0..<Self.spawnsPerTurn {
            guard exitCode == nil, let order = pendingSpawns.popFirst() else { return }
            let event = supervisor.orderToCarryOut(order).map(spawn) ?? .spawnCancelled(order.worker, order.role)
            perform(supervisor.handle(event, now: .now()))
        }
    }

    /// Where everything is, for whoever reads the first line of the log:
    /// the config (or, plainly, the embedded demo), the control socket, the
    /// pid file and every listen address.
    var startLine: String {
        let source = config.sourcePath.map { "config \($0)" }
            ?? "the EMBEDDED DEMO config (no --config and no ./appd.json)"
        let listening = config.groups.flatMap { group in group.listen.map { "\(group.name) on \($0)" } }
        return "appd \(AppdVersion.current) started, pid \(getpid()), \(counted(config.groups.count, "group", "groups")) from \(source); "
            + "control socket \(config.controlSocket), pid file \(config.pidFile)"
            + (listening.isEmpty ? "" : "; listening: " + listening.joined(separator: ", "))
    }

    /// Carries out effects in order. Spawns are queued and carried out by
    /// `runPendingSpawns`, a slice per loop turn; the core hears of each with
    /// `.spawned`, `.spawnFailed` or `.spawnCancelled`.
    func perform(_ effects: [SupervisorEffect]) {
        var queue = effects[...]
        while let effect = queue.popFirst() {
            switch effect {
            case .spawn(let order):
                pendingSpawns.append(order)
            case .signal(let pid, let signal):
                if !ProcessControl.send(signal, to: pid) {
                    log.warning("could not send \(signal) to pid \(pid): it has already exited")
                }
            case .signalProcessGroup(let leader, let signal):
                if !ProcessControl.sendToProcessGroup(signal, leader: leader) {
                    log.warning("could not send \(signal) to process group \(leader): it is gone")
                }
            case .log(let record):
                log.write(record)
            case .notice(let notice):
                deliver(notice)
            case .exit(let code):
                exitCode = code
            }
        }
        endOvertakenStops()
    }

    /// One timer for the whole daemon, at the nearest deadline of the core
    /// or of a control client (a watch interval, an idle timeout). With no
    /// deadline the timer is disarmed and the master sleeps.
    private func rearmTimer() {
        let deadline = [supervisor.nextDeadline, nextControlDeadline, lingering.nextDeadline].compactMap { $0 }.min()
        guard deadline != armedDeadline else { return }
        do {
            try timer.arm(at: deadline)
            armedDeadline = deadline
        } catch {
            log.error("cannot arm the deadline timer: \(error)")
        }
    }

    /// Reaps exited children, up to `reapsPerTurn`: one SIGCHLD may stand
    /// for many exits, and what is left is reaped next turn (`reapPending`).
    func reapChildren() {
        reapPending = true
        for _ in 0..<Self.reapsPerTurn {
            guard let (pid, status) = ProcessControl.reapOne() else {
                reapPending = false
                break
            }
            closeNotifyChannel(ofWorker: pid)
            reports[pid] = nil
            if pid == orphanGuard.pid { replaceOrphanGuard(after: ExitStatus(waitStatus: status)) }
            if guardedGroups.remove(pid) != nil { stopWhatTheLeaderLeft(pgid: pid) }
            statsCollector.forget(pid: pid)
            // Its last words first: a reload it aborts reports them.
            readOutputLeft(byWorker: pid)
            forgetOutputBudget(ofWorker: pid)
            perform(supervisor.handle(.childExited(pid: pid, status: ExitStatus(waitStatus: status)), now: .now()))
        }
        releaseEmptyGroups()
    }

    /// Without its guard a master killed by SIGKILL would leave orphans: a
    /// new guard is started and told every group the old one knew.
    private func replaceOrphanGuard(after status: ExitStatus) {
        log.error("the orphan guard (pid \(orphanGuard.pid)) died: \(status); starting a new one")
        orphanGuard.close()
        do {
            // Armed with every group as it is forked: notes written after the
            // fork would leave a window in which a SIGKILLed master left them.
            orphanGuard = try OrphanGuard.start(guarding: Array(guardedGroups.union(lingering.pgids)))
        } catch {
            log.error("cannot start a new orphan guard: \(error)")
        }
    }

    /// A worker's process group outlives the worker while what it forked
    /// runs on: the orphan guard keeps it until its last member is gone (a
    /// group id cannot be reused before), then forgets it.
    private func releaseEmptyGroups() {
        for pgid in Array(lingering.pgids) where !ProcessControl.processGroupExists(pgid) {
            lingering.remove(pgid)
            orphanGuard.workerExited(pgid)
        }
    }

    /// A worker's leader was reaped (`pgid` is its pid): whatever still runs
    /// in its process group gets the group's stop signal now and SIGKILL
    /// after its stopTimeout (`LingeringGroups`).
    private func stopWhatTheLeaderLeft(pgid: Int32) {
        guard ProcessControl.processGroupExists(pgid) else {
            orphanGuard.workerExited(pgid)
            return
        }
        guard let worker = supervisor.owner(of: pgid), let group = supervisor.group(named: worker.group)?.config else {
            lingering.track(pgid, worker: "pid \(pgid)")
            return
        }
        let label = "\(worker)[\(pgid)]"
        log.warning("worker \(label) exited, but processes of its process group still run; sending them \(group.stopSignal), SIGKILL in \(HumanFormat.duration(seconds: group.stopTimeout))")
        ProcessControl.sendToProcessGroup(group.stopSignal, leader: pgid)
        lingering.leaderExited(pgid, worker: label, stopTimeout: group.stopTimeout, now: .now())
    }

    /// SIGKILL for the lingering groups whose stopTimeout has passed.
    func killLingeringGroups(now: MonotonicInstant) {
        for (pgid, worker) in lingering.takeDue(now: now) where ProcessControl.processGroupExists(pgid) {
            log.warning("processes left by worker \(worker) still run after the stop signal; sending SIGKILL to its process group")
            ProcessControl.sendToProcessGroup(.kill, leader: pgid)
        }
    }

    private func shutDown() {
        killLeftoverChildren()
        for fd in outputs.keys { drainChildOutput(fd: fd) }
        closeControlClients()
        listeners.closeAll()
        notifyChannels.removeAll()
        control.remove()
        socketLock.remove()
        pidFile.remove()
        log.info("appd stopped")
    }

    /// Every worker has exited, but what they forked and left behind was
    /// re-parented to the master (child subreaper): no child outlives it.
    private func killLeftoverChildren() {
        for pid in ProcessControl.children() where pid != orphanGuard.pid {
            log.warning("killing pid \(pid), left behind by a worker")
            ProcessControl.sendToProcessGroup(.kill, leader: pid)
            ProcessControl.send(.kill, to: pid)
            _ = ProcessControl.reapOne(pid)
        }
    }
}
