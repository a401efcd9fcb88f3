import Shared

/// The pure supervisor core: which process is in which state, what a reload
/// does next, when a stop is finished, what an exit means.
///
/// It makes no system calls and reads no clock. The shell feeds it events and
/// requests with the current time and carries out the effects it returns, in
/// order; after every call it re-arms one timer at `nextDeadline`. So every
/// rule (respawn, backoff, rolling reload, stop, scale, watchdog) can be
/// tested with a fake clock and fake pids, in microseconds, through any
/// ordering of events. (Its state is internal rather than private only so
/// the extensions in the sibling files can reach it; the shell reads it,
/// never writes it.)
public struct Supervisor: Sendable {
    public internal(set) var groups: [WorkerGroup]
    /// pid → slot, for every live process (current, successor, outgoing).
    public internal(set) var owners: [Int32: WorkerRef] = [:]
    /// A daemon stop is under way: nothing is respawned.
    public internal(set) var isStopping = false
    /// The `.exit` effect has been emitted.
    public internal(set) var isFinished = false
    public let backoff: RestartBackoff
    /// Process groups that exited workers left running, by pgid (the
    /// worker's pid), with the slot each belongs to (`Supervisor+LeftBehind`).
    public internal(set) var leftBehind: [Int32: WorkerRef] = [:]
    /// Slots whose next process waits until what the last one left is gone.
    public internal(set) var heldSpawns: Set<WorkerRef> = []
    /// Effects collected during one call, returned and cleared at its end.
    public internal(set) var pending: [SupervisorEffect] = []

    public init(config: DaemonConfig, backoff: RestartBackoff = RestartBackoff()) {
        self.groups = config.groups.map(WorkerGroup.init(config:))
        self.backoff = backoff
    }

    /// Starts every group but those with `autostart: false`, each once the
    /// groups it depends on are ready.
    public mutating func start(now: MonotonicInstant) -> [SupervisorEffect] {
        for g in groups.indices where !groups[g].config.autostart {
            groups[g].wantsRunning = false
            log(.info, "group \(groups[g].name) is not started (autostart: false): `appctl start \(groups[g].name)` starts it")
        }
        for g in groups.indices where groups[g].config.autostart { startOrWait(g) }
        return takeEffects()
    }

    public mutating func handle(_ event: SupervisorEvent, now: MonotonicInstant) -> [SupervisorEffect] {
        assert(pending.isEmpty, "effects left over from an earlier call")
        switch event {
        case .spawned(let ref, let role, let pid): processSpawned(ref, role, pid: pid, now: now)
        case .spawnFailed(let ref, let role, let reason): processSpawnFailure(ref, role, reason: reason, now: now)
        case .spawnCancelled(let ref, let role): processSpawnCancelled(ref, role)
        case .childExited(let pid, let status, let leftInGroup):
            if leftInGroup, let ref = owners[pid] { leftBehind[pid] = ref }
            processExit(pid: pid, status: status, now: now)
        case .processGroupEmptied(let pgid): processGroupEmptied(pgid)
        case .ready(let pid): processReady(pid: pid, now: now)
        case .watchdog(let pid): processWatchdogPing(pid: pid, now: now)
        case .memorySample(let pid, let bytes): processMemorySample(pid: pid, bytes: bytes, now: now)
        case .deadlinesDue: processDeadlines(now: now)
        }
        followDependencies(now: now)
        return takeEffects()
    }

    /// Live processes (every role and phase), for counting and invariant checks.
    public var liveProcessCount: Int { owners.count }

    public func owner(of pid: Int32) -> WorkerRef? { owners[pid] }

    public func group(named name: String) -> WorkerGroup? { groups.first { $0.name == name } }

    /// Whether any group is in the middle of a rolling reload.
    public var isReloading: Bool { groups.contains { $0.reload != nil } }

    /// Every group setting a process may still be respawned with: each
    /// group's own, and the one a reload in flight would roll back to. The
    /// shell keeps the listening sockets these name.
    public var configsInUse: [GroupConfig] {
        groups.filter { !$0.retiring }.flatMap { [$0.config] + ($0.reload?.rollback.map { [$0] } ?? []) }
    }

    // MARK: - Shared building blocks for events and requests

    mutating func takeEffects() -> [SupervisorEffect] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    mutating func emit(_ effect: SupervisorEffect) { pending.append(effect) }

    mutating func log(_ level: LogRecord.Level, _ message: String) {
        emit(.log(LogRecord(level: level, message: message)))
    }

    /// A line about one worker (and its process, when one ran): it also goes
    /// to the group's history, between the lines the worker printed.
    mutating func log(_ level: LogRecord.Level, about worker: WorkerRef, pid: Int32? = nil, _ message: String) {
        emit(.log(LogRecord(level: level, message: message, worker: worker, pid: pid)))
    }

    /// The group a request names; groups being removed are no longer addressable.
    public func groupIndex(named name: String) -> Int? { groups.firstIndex { $0.name == name && !$0.retiring } }

    /// The group a slot belongs to, retiring or not: its processes still report.
    public func groupIndex(of ref: WorkerRef) -> Int? { groups.firstIndex { $0.name == ref.group } }

    public func ref(_ g: Int, _ id: Int) -> WorkerRef { WorkerRef(group: groups[g].name, id: id) }

    /// Asks the shell for the slot's current process, with the group's
    /// settings and generation as they are now.
    /// A slot whose last process left members of its process group running
    /// waits until they are gone (`Supervisor+LeftBehind`).
    mutating func spawn(_ g: Int, _ id: Int) {
        groups[g].slots[id].state = .spawning
        guard !holdSpawnWhileLeftBehind(g, id) else { return }
        emit(.spawn(SpawnOrder(worker: ref(g, id), role: .current, generation: groups[g].generation, config: groups[g].config)))
    }

    /// Asks the shell for a successor beside the slot's current process.
    mutating func spawnSuccessor(_ g: Int, _ id: Int) {
        assert(groups[g].slots[id].successor == nil, "\(ref(g, id)) already has a successor")
        groups[g].slots[id].successor = .spawning
        emit(.spawn(SpawnOrder(worker: ref(g, id), role: .successor, generation: groups[g].generation, config: groups[g].config)))
    }

    /// Sends the group's stopSignal (or `signal`, for the watchdog's SIGABRT)
    /// and arms SIGKILL for after stopTimeout. A process already stopping
    /// keeps its deadline; only the reason changes, and only to a failure
    /// (a readiness timeout stays one when a stop overtakes it).
    mutating func stopProcess(_ g: Int, _ id: Int, _ role: ProcessRole, reason: StopReason, now: MonotonicInstant,
                              signal: UnixSignal? = nil) {
        guard var process = groups[g].slots[id][role] else { return }
        // Stopped on purpose after a healthy start: whatever failures the
        // slot had before are history, and its next failure backs off from
        // the start (a release that fails once must not wait out an old streak).
        if reason.failure == nil, role != .successor,
           !backoff.isQuickDeath(uptime: now.seconds(since: process.startedAt), becameReady: process.readySince != nil) {
            groups[g].slots[id].consecutiveFailures = 0
        }
        if var order = process.stopOrder {
            if order.reason.failure == nil { order.reason = reason }
            process.phase = .stopping(order)
        } else {
            let config = groups[g].config
            process.phase = .stopping(StopOrder(
                reason: reason, signal: signal ?? config.stopSignal, stopTimeout: config.stopTimeout,
                killAt: now.adding(seconds: config.stopTimeout)))
            if let signal {
                // SIGABRT for the hung process alone: its core dump is the
                // evidence; the SIGKILL after stopTimeout takes its group.
                emit(.signal(pid: process.pid, signal))
            } else {
                emit(.signalProcessGroup(leader: process.pid, config.stopSignal))
            }
        }
        groups[g].slots[id].update(role, process)
    }

    /// Whether a slot should hold a process right now.
    public func slotWanted(_ g: Int, _ id: Int) -> Bool {
        !isStopping && groups[g].wantsRunning && groups[g].waitingFor.isEmpty && id < groups[g].config.count
    }

    /// After every event and request: groups waiting for their
    /// dependencies start once those are ready; at a daemon stop, groups
    /// waiting for their dependents stop once those have.
    mutating func followDependencies(now: MonotonicInstant) {
        if isStopping {
            stopGroupsWhoseDependentsStopped(now: now)
            finishIfStopped()
        } else {
            startGroupsWhoseDependenciesAreReady()
        }
    }

    /// Drops trailing slots beyond the count once nothing runs in them.
    mutating func trimSlots(_ g: Int) {
        while let last = groups[g].slots.last, last.id >= groups[g].config.count, last.isQuiet {
            groups[g].slots.removeLast()
        }
    }

    /// After a slot emptied: a stopped group says so, a retired group goes
    /// away, and a stopping daemon exits once nothing is left.
    mutating func settle(_ g: Int) {
        trimSlots(g)
        if !groups[g].wantsRunning, groups[g].isQuiet {
            emit(.notice(.groupStopped(groups[g].name)))
            if groups[g].retiring {
                log(.info, "group \(groups[g].name) removed")
                groups.remove(at: g)
            }
        }
        finishIfStopped()
    }

    mutating func finishIfStopped() {
        guard isStopping, !isFinished, owners.isEmpty, groups.allSatisfy({ $0.slots.allSatisfy { $0.state == .empty && $0.isQuiet } })
        else { return }
        isFinished = true
        log(.info, "every worker has exited; appd stops")
        emit(.exit(code: 0))
    }
}
