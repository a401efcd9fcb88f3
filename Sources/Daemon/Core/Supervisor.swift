import Shared

/// The pure supervisor core: which process is in which state, what a reload
/// does next, when a stop is finished, what an exit means.
///
/// It makes no system calls and reads no clock. The shell feeds it events and
/// requests with the current time and carries out the effects it returns, in
/// order; after every call it re-arms one timer at `nextDeadline`. So every
/// rule (respawn, backoff, rolling reload, stop, scale) can be tested with a
/// fake clock and fake pids, in microseconds, through any ordering of events.
/// (Its state is internal rather than private only so the extensions in the
/// sibling files can reach it; the shell reads it, never writes it.)
struct Supervisor: Sendable {
    var groups: [WorkerGroup]
    /// pid → slot, for every live process.
    var owners: [Int32: WorkerRef] = [:]
    /// A daemon stop is under way: nothing is respawned.
    var isStopping = false
    /// The `.exit` effect has been emitted.
    var isFinished = false
    let backoff: RestartBackoff
    /// Effects collected during one call, returned and cleared at its end.
    var pending: [SupervisorEffect] = []

    init(config: DaemonConfig, backoff: RestartBackoff = RestartBackoff()) {
        self.groups = config.groups.map(WorkerGroup.init(config:))
        self.backoff = backoff
    }

    /// Starts every slot of every group.
    mutating func start(now: MonotonicInstant) -> [SupervisorEffect] {
        for g in groups.indices {
            for id in groups[g].slots.indices { spawn(g, id) }
        }
        return takeEffects()
    }

    mutating func handle(_ event: SupervisorEvent, now: MonotonicInstant) -> [SupervisorEffect] {
        switch event {
        case .spawned(let ref, let pid): processSpawned(ref, pid: pid, now: now)
        case .spawnFailed(let ref, let reason): processSpawnFailure(ref, reason: reason, now: now)
        case .childExited(let pid, let status): processExit(pid: pid, status: status, now: now)
        case .ready(let pid): processReady(pid: pid, now: now)
        case .deadlinesDue: processDeadlines(now: now)
        }
        return takeEffects()
    }

    /// The earliest moment something must happen without an event: a backoff
    /// ending, a readiness deadline, a SIGKILL after stopTimeout. nil when
    /// nothing is scheduled, so an idle master never wakes up.
    var nextDeadline: MonotonicInstant? {
        var earliest: MonotonicInstant?
        for group in groups {
            for slot in group.slots {
                let deadline: MonotonicInstant?
                switch slot.state {
                case .backingOff(let until): deadline = until
                case .live(let process):
                    switch process.phase {
                    case .starting(let readyBy): deadline = readyBy
                    case .stopping(let order): deadline = order.killSent ? nil : order.killAt
                    case .running: deadline = nil
                    }
                case .empty, .spawning: deadline = nil
                }
                if let deadline, earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
            }
        }
        return earliest
    }

    /// Live processes (every phase), for counting and invariant checks.
    var liveProcessCount: Int { owners.count }

    func owner(of pid: Int32) -> WorkerRef? { owners[pid] }

    func group(named name: String) -> WorkerGroup? { groups.first { $0.name == name } }

    // MARK: - Shared building blocks for events and requests

    mutating func takeEffects() -> [SupervisorEffect] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    mutating func emit(_ effect: SupervisorEffect) { pending.append(effect) }

    mutating func log(_ level: LogRecord.Level, _ message: String) {
        emit(.log(LogRecord(level: level, message: message)))
    }

    /// The group a request names; groups being removed are no longer addressable.
    func groupIndex(named name: String) -> Int? { groups.firstIndex { $0.name == name && !$0.retiring } }

    /// The group a slot belongs to, retiring or not: its processes still report.
    func groupIndex(of ref: WorkerRef) -> Int? { groups.firstIndex { $0.name == ref.group } }

    mutating func spawn(_ g: Int, _ id: Int) {
        groups[g].slots[id].state = .spawning
        emit(.spawn(SpawnOrder(worker: WorkerRef(group: groups[g].name, id: id), config: groups[g].config)))
    }

    /// Sends the group's stopSignal and arms SIGKILL for after stopTimeout.
    /// A process already stopping keeps its deadline; only the reason changes.
    mutating func stopProcess(_ g: Int, _ id: Int, reason: StopReason, now: MonotonicInstant) {
        guard var process = groups[g].slots[id].process else { return }
        if case .stopping(var order) = process.phase {
            order.reason = reason
            process.phase = .stopping(order)
        } else {
            let config = groups[g].config
            process.phase = .stopping(StopOrder(
                reason: reason, signal: config.stopSignal, stopTimeout: config.stopTimeout,
                killAt: now.adding(seconds: config.stopTimeout)))
            emit(.signalProcessGroup(leader: process.pid, config.stopSignal))
        }
        groups[g].slots[id].state = .live(process)
    }

    /// Whether a slot should hold a process right now.
    func slotWanted(_ g: Int, _ id: Int) -> Bool {
        !isStopping && groups[g].wantsRunning && id < groups[g].config.count
    }

    /// Drops trailing slots beyond the count once nothing runs in them.
    mutating func trimSlots(_ g: Int) {
        while let last = groups[g].slots.last, last.id >= groups[g].config.count {
            switch last.state {
            case .empty, .backingOff: groups[g].slots.removeLast()
            case .spawning, .live: return
            }
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
        guard isStopping, !isFinished, owners.isEmpty,
              groups.allSatisfy({ $0.slots.allSatisfy { $0.state == .empty } }) else { return }
        isFinished = true
        log(.info, "every worker has exited; appd stops")
        emit(.exit(code: 0))
    }
}
