import Glibc
import Shared
import SupervisorCore

/// Coordinates the pure `Supervisor` with the parts of the shell that
/// carry out its effects, on one thread around one `EventLoop`:
///
/// - `ControlServer`: the control socket, its clients, framing and buffers;
/// - `WorkerIO`: spawning workers, their output, notify channels and
///   process groups;
/// - `StatusService`: status snapshots, sampled a slice per turn;
/// - `ServiceManagerLink`: what systemd is told;
/// - `MetricsService` and the optional `MetricsHTTPServer`: the Prometheus
///   exposition, sampled the same way, and `/metrics` and `/healthz`;
/// - `ControlStreams`: which client waits for which notice (a pure value).
///
/// The daemon holds the core and is the only one to change it (events,
/// requests); the parts read it. Each loop turn does a bounded share of
/// every kind of work (`run`), so no source can starve the others.
public final class Daemon {
    /// Changed only through its events and requests; the parts read it.
    var supervisor: Supervisor
    var config: DaemonConfig
    let log: DaemonLog
    private let loop: EventLoop
    let signals: SignalChannel
    private let timer: DeadlineTimer
    let control: ControlServer
    let workers: WorkerIO
    let status: StatusService
    let metrics: MetricsService
    /// The HTTP listener of `metrics.listen`; nil when not configured.
    let metricsServer: MetricsHTTPServer?
    let listeners: ListenerRegistry
    let statusFile: StatusFile
    /// What systemd is told (READY=1 once every group is ready, RELOADING=1, STOPPING=1, STATUS=).
    private let serviceManager: ServiceManagerLink
    private let controlListener: UnixControlListener
    private let pidFile: PidFileLock
    private let socketLock: PidFileLock
    /// Requests still streaming: reloads, group stops, watches, log follows.
    var streams = ControlStreams()
    private var armedDeadline: MonotonicInstant?
    /// Memory sampling for `maxMemory`, on only while a group has it.
    private var memoryWatch = MemoryWatch()
    /// A reload signal arrived while a reload ran; it runs when that ends.
    var reloadQueued = false
    /// Reloads refused before anything changed (for metrics).
    var reloadsRefused = 0
    /// Spawn orders waiting for their turn (`runPendingSpawns`).
    private var pendingSpawns = SpawnQueue()
    /// Exits may be left to reap: the last `reapChildren` used its budget.
    private var reapPending = false
    /// Set by the `.exit` effect: the loop ends and `run` returns it.
    private var exitCode: Int32?
    /// The command line's overrides, applied again to every re-read config.
    let applyOverrides: (inout DaemonConfig) -> Void

    init(config: DaemonConfig, logs: GroupLogs, resources: DaemonResources, applyOverrides: @escaping (inout DaemonConfig) -> Void) throws(SystemError) {
        self.config = config
        self.log = logs.daemonLog
        self.applyOverrides = applyOverrides
        self.supervisor = Supervisor(config: config)
        self.loop = EventLoop(poll: resources.poll)
        self.signals = resources.signals
        self.timer = resources.timer
        self.listeners = resources.listeners
        self.controlListener = resources.control
        self.pidFile = resources.pidFile
        self.socketLock = resources.socketLock
        self.statusFile = StatusFile(path: config.statusFile, log: log)
        self.control = try ControlServer(listener: resources.control, loop: loop, log: log)
        // One helper thread reads the held /proc and cgroup.procs files of
        // a status slice with the loop thread (`ParallelFileReader`).
        let fileReads = ParallelFileReader()
        self.workers = WorkerIO(loop: loop, logs: logs, notifyChannels: resources.notifyChannels, listeners: resources.listeners,
                                orphanGuard: resources.orphanGuard,
                                cgroups: CgroupTree.setUp(enabled: config.cgroups, orphanGuardPid: resources.orphanGuard.pid, log: log),
                                fileReads: fileReads)
        let sampler = ProcessSampler(fileReads: fileReads)
        self.status = StatusService(sampler: sampler, fileReads: fileReads)
        let longestReadyTimeout = config.groups.map(\.readyTimeout).max() ?? 0
        self.serviceManager = ServiceManagerLink(startedAt: .now(), readyGrace: max(longestReadyTimeout, 1), log: log)
        self.metrics = MetricsService(startedAt: status.startedAt.seconds, sampler: sampler)
        if let fd = resources.metricsListener, let settings = config.metrics {
            self.metricsServer = try MetricsHTTPServer(listener: fd, address: settings.listen, loop: loop, log: log)
        } else {
            self.metricsServer = nil
        }
        connectParts()
    }

    /// What one part hears that another must act on passes through here.
    private func connectParts() {
        control.onRequest = { [unowned self] request, client in execute(request, from: client) }
        control.onClientClosed = { [unowned self] client in streams.forget(client: client) }
        control.hasStreams = { [unowned self] client in streams.hasStreams(client: client) }
        control.onDrained = { [unowned self] client in continueLogs(of: client) }
        workers.onEvent = { [unowned self] event in perform(supervisor.handle(event, now: .now())) }
        workers.logs.isFollowed = { [unowned self] group in isFollowed(group) }
        workers.logs.onEntry = { [unowned self] entry in deliverToFollowers(entry) }
        status.send = { [unowned self] lines, client in control.send(lines: lines, to: client) }
        connectMetrics()
        status.members = { [unowned self] pids, tree in workers.groups.members(ofWorkers: pids, tree: &tree) }
        status.chargedMemory = { [unowned self] pid in workers.groups.chargedMemory(ofWorker: pid) }
    }

    /// Runs until every worker has exited after a stop; returns the exit
    /// code. `onStarted` runs once the first processes are spawned and the
    /// control socket accepts (it tells `--daemonize` and systemd).
    func run(onStarted: () -> Void) throws(SystemError) -> Int32 {
        _ = try loop.register(fd: signals.fd, interest: .readable) { [unowned self] _ in handleSignals() }
        _ = try loop.register(fd: timer.fd, interest: .readable) { [unowned self] _ in deadlinesDue() }
        log.info(startLine)
        perform(supervisor.start(now: .now()))
        onStarted()
        while exitCode == nil {
            rearmTimer()
            workers.startTurn()
            control.startTurn()
            // Work left over from the last turn (client requests, exits,
            // spawns, status and metrics slices beyond their budget): look at the
            // descriptors without sleeping, then do the next share of it.
            let leftOver = control.hasUnhandledRequests || reapPending || !pendingSpawns.isEmpty || status.hasWork || metrics.hasWork
                || hasLogsToSend
            try loop.turn(block: !leftOver) { exitCode == nil }
            if exitCode == nil { control.handleLeftoverRequests() }
            if exitCode == nil, reapPending { reapChildren() }
            if exitCode == nil { runPendingSpawns() }
            if exitCode == nil { status.continueWork(supervisor: supervisor, reports: workers.reports) }
            if exitCode == nil { continueLogs() }
            if exitCode == nil { metrics.continueWork(supervisor: supervisor, reports: workers.reports) }
            runQueuedReload()
            loop.runDeferred()
            serviceManager.update(supervisor, now: .now())
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
    private func runPendingSpawns() {
        var slice = TurnSlice(items: Self.spawnsPerTurn, seconds: TurnSlice.standardSeconds)
        while slice.takeOne() {
            guard exitCode == nil, let order = pendingSpawns.popFirst() else { return }
            let event = supervisor.orderToCarryOut(order).map(workers.spawn) ?? .spawnCancelled(order.worker, order.role)
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
            + (config.metrics.map { ["metrics on \($0.listen)"] } ?? [])
        return "appd \(AppdVersion.current) started, pid \(getpid()), \(counted(config.groups.count, "group", "groups")) from \(source); "
            + "control socket \(config.controlSocket), pid file \(config.pidFile)"
            + (listening.isEmpty ? "" : "; listening: " + listening.joined(separator: ", "))
    }

    /// Carries out effects in order. Spawns are queued and carried out by
    /// `runPendingSpawns`, a slice per loop turn; the core hears of each with
    /// `.spawned`, `.spawnFailed` or `.spawnCancelled`.
    func perform(_ effects: [SupervisorEffect]) {
        for effect in effects {
            switch effect {
            case .spawn(let order):
                pendingSpawns.append(order)
            case .signal(let pid, let signal):
                if !ProcessControl.send(signal, to: pid) {
                    let process = supervisor.owner(of: pid).map { "\($0)[\(pid)]" } ?? "pid \(pid)"
                    log.warning("could not send \(signal) to \(process): it has already exited")
                }
            case .signalProcessGroup(let leader, let signal):
                if !workers.groups.signal(signal, worker: leader) {
                    log.warning("could not send \(signal) to process group \(leader): it is gone")
                }
            case .log(let record):
                workers.logs.record(record)
            case .notice(let notice):
                deliver(notice)
            case .exit(let code):
                exitCode = code
            }
        }
        endOvertakenStops()
    }

    /// The timer fired: the core's deadlines, the clients', the watchers'
    /// ticks and the lingering process groups' SIGKILLs (the service
    /// manager's are seen to at the end of every turn).
    private func deadlinesDue() {
        _ = timer.acknowledge()
        armedDeadline = nil
        let now = MonotonicInstant.now()
        perform(supervisor.handle(.deadlinesDue, now: now))
        control.serviceDeadlines(now: now)
        for tick in streams.takeDueWatchers(now: now) {
            status.startSnapshot(group: tick.group, for: tick.recipients, supervisor: supervisor)
        }
        workers.groups.killDue(now: now)
        metricsServer?.serviceDeadlines(now: now)
        if memoryWatch.takeDue(now: now) { sampleMemory() }
    }

    /// Feeds the core each watched worker's memory, its whole tree
    /// (`MemoryRule` decides); /proc is walked at most once per round.
    private func sampleMemory() {
        for (pid, bytes) in workers.groups.treeMemory(ofWorkers: supervisor.memoryWatchedPids) {
            perform(supervisor.handle(.memorySample(pid: pid, bytes: bytes), now: .now()))
        }
    }

    /// One timer for the whole daemon, at the nearest deadline of the core,
    /// a control client, a watcher, a lingering process group or the next
    /// memory sample. With no
    /// deadline the timer is disarmed and the master sleeps.
    private func rearmTimer() {
        if supervisor.hasMemoryLimits != (memoryWatch.nextSample != nil) {
            memoryWatch.update(active: supervisor.hasMemoryLimits, now: .now())
        }
        let deadline = [supervisor.nextDeadline, control.nextDeadline, streams.nextWatchDeadline, workers.groups.nextDeadline,
                        serviceManager.nextDeadline, metricsServer?.nextDeadline, memoryWatch.nextSample].compactMap { $0 }.min()
        guard deadline != armedDeadline else { return }
        do {
            try timer.arm(at: deadline)
            armedDeadline = deadline
        } catch {
            log.error("cannot arm the deadline timer: \(error)")
        }
    }

    /// Reaps exited children, a slice of at most `reapsPerTurn`: one SIGCHLD
    /// may stand for many exits, and what is left is reaped next turn
    /// (`reapPending`).
    func reapChildren() {
        reapPending = true
        var slice = TurnSlice(items: Self.reapsPerTurn, seconds: TurnSlice.standardSeconds)
        while slice.takeOne() {
            guard let (pid, waitStatus) = ProcessControl.reapOne() else {
                reapPending = false
                break
            }
            let status = ExitStatus(waitStatus: waitStatus)
            let now = MonotonicInstant.now()
            guard case .process(let leftInGroup) = workers.reaped(pid, status: status, now: now) else { continue }
            self.status.forget(pid: pid)
            metrics.forget(pid: pid)
            perform(supervisor.handle(.childExited(pid: pid, status: status, leftInGroup: leftInGroup), now: now))
        }
        for pgid in workers.groups.releaseEmptyGroups() {
            perform(supervisor.handle(.processGroupEmptied(pgid: pgid), now: .now()))
        }
    }

    private func shutDown() {
        workers.shutDown()
        control.closeAll()
        metricsServer?.closeAll()
        listeners.closeAll()
        controlListener.remove()
        socketLock.remove()
        pidFile.remove()
        log.info("appd stopped")
    }
}
