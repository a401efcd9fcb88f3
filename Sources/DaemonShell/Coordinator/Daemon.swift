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
    let listeners: ListenerRegistry
    let statusFile: StatusFile
    private let controlListener: UnixControlListener
    private let pidFile: PidFileLock
    private let socketLock: PidFileLock
    /// Requests still streaming: reloads, group stops, watches, log follows.
    var streams = ControlStreams()
    private var armedDeadline: MonotonicInstant?
    /// A reload signal arrived while a reload ran; it runs when that ends.
    var reloadQueued = false
    /// Spawn orders waiting for their turn (`runPendingSpawns`).
    private var pendingSpawns = SpawnQueue()
    /// Exits may be left to reap: the last `reapChildren` used its budget.
    private var reapPending = false
    /// Set by the `.exit` effect: the loop ends and `run` returns it.
    private var exitCode: Int32?
    /// The command line's overrides, applied again to every re-read config.
    let applyOverrides: (inout DaemonConfig) -> Void

    init(config: DaemonConfig, log: DaemonLog, resources: DaemonResources, applyOverrides: @escaping (inout DaemonConfig) -> Void) throws(SystemError) {
        self.config = config
        self.log = log
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
        self.workers = WorkerIO(loop: loop, log: log, notifyChannels: resources.notifyChannels, listeners: resources.listeners,
                                orphanGuard: resources.orphanGuard)
        self.status = StatusService()
        connectParts()
    }

    /// What one part hears that another must act on passes through here.
    private func connectParts() {
        control.onRequest = { [unowned self] request, client in execute(request, from: client) }
        control.onClientClosed = { [unowned self] client in streams.forget(client: client) }
        control.hasStreams = { [unowned self] client in streams.hasStreams(client: client) }
        workers.onEvent = { [unowned self] event in perform(supervisor.handle(event, now: .now())) }
        workers.outputs.onLine = { [unowned self] entry in
            for follower in streams.logFollowers where follower.group == nil || follower.group == entry.group {
                control.send(.item(id: follower.request, .log(entry)), to: follower.client)
            }
        }
        status.send = { [unowned self] lines, client in control.send(lines: lines, to: client) }
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
            // spawns, status slices beyond their budget): look at the
            // descriptors without sleeping, then do the next share of it.
            let leftOver = control.hasUnhandledRequests || reapPending || !pendingSpawns.isEmpty || status.hasWork
            try loop.turn(block: !leftOver) { exitCode == nil }
            if exitCode == nil { control.handleLeftoverRequests() }
            if exitCode == nil, reapPending { reapChildren() }
            if exitCode == nil { runPendingSpawns() }
            if exitCode == nil { status.continueWork(supervisor: supervisor, reports: workers.reports) }
            runQueuedReload()
            loop.runDeferred()
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
        for _ in 0..<Self.spawnsPerTurn {
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

    /// The timer fired: the core's deadlines, the clients', the watchers'
    /// ticks and the lingering process groups' SIGKILLs.
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
    }

    /// One timer for the whole daemon, at the nearest deadline of the core,
    /// a control client, a watcher or a lingering process group. With no
    /// deadline the timer is disarmed and the master sleeps.
    private func rearmTimer() {
        let deadline = [supervisor.nextDeadline, control.nextDeadline, streams.nextWatchDeadline, workers.groups.nextDeadline]
            .compactMap { $0 }.min()
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
            guard let (pid, waitStatus) = ProcessControl.reapOne() else {
                reapPending = false
                break
            }
            let status = ExitStatus(waitStatus: waitStatus)
            let now = MonotonicInstant.now()
            guard workers.reaped(pid, status: status, now: now) else { continue }
            self.status.forget(pid: pid)
            perform(supervisor.handle(.childExited(pid: pid, status: status), now: now))
        }
        workers.groups.releaseEmptyGroups()
    }

    private func shutDown() {
        workers.shutDown()
        control.closeAll()
        listeners.closeAll()
        controlListener.remove()
        socketLock.remove()
        pidFile.remove()
        log.info("appd stopped")
    }
}
