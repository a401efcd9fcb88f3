import Shared

/// Everything that happens without an event: a backoff ending, a readiness
/// deadline, a watchdog expiring, SIGKILL after stopTimeout. One function
/// lists a slot's deadlines; the timer's deadline and the processing both
/// read it, so what is armed is exactly what is handled.
extension Supervisor {
    /// What falls due at one of a slot's deadlines.
    public enum Due: Sendable, Equatable {
        case backoffEnds
        case process(pid: Int32, ProcessDeadline)
    }

    /// Calls `body` with each of the slot's deadlines. It builds no list:
    /// `nextDeadline` runs every loop turn over every slot, and at a
    /// thousand workers arrays made per slot were most of its cost.
    static func forEachDeadline(of slot: WorkerSlot, _ body: (_ at: MonotonicInstant, _ due: Due) -> Void) {
        if case .backingOff(let until) = slot.state { body(until, .backoffEnds) }
        func visit(_ process: WorkerProcess?) {
            if let process, let deadline = process.deadline { body(deadline.at, .process(pid: process.pid, deadline.due)) }
        }
        visit(slot.process)
        visit(slot.liveSuccessor)
        visit(slot.outgoing)
    }

    /// The earliest deadline; nil when nothing is scheduled, so an idle
    /// master never wakes up.
    public var nextDeadline: MonotonicInstant? {
        var earliest: MonotonicInstant?
        for group in groups {
            for slot in group.slots {
                Self.forEachDeadline(of: slot) { at, _ in
                    if earliest.map({ at < $0 }) ?? true { earliest = at }
                }
            }
        }
        return earliest
    }

    mutating func processDeadlines(now: MonotonicInstant) {
        // The last held-back restart is due now: the storm is over.
        for g in groups.indices where groups[g].restartsHeldUntil.map({ $0 <= now }) == true {
            groups[g].restartsHeldUntil = nil
        }
        // Collected first: handling one can change slots, or remove a group.
        var due: [(WorkerRef, Due)] = []
        for group in groups {
            for slot in group.slots {
                Self.forEachDeadline(of: slot) { at, what in
                    if at <= now { due.append((WorkerRef(group: group.name, id: slot.id), what)) }
                }
            }
        }
        for (ref, what) in due {
            guard let g = groupIndex(of: ref), ref.id < groups[g].slots.count else { continue }
            fire(what, g, ref.id, now: now)
        }
    }

    private mutating func fire(_ due: Due, _ g: Int, _ id: Int, now: MonotonicInstant) {
        switch due {
        case .backoffEnds:
            guard case .backingOff = groups[g].slots[id].state else { return }
            if slotWanted(g, id) { spawn(g, id) } else { groups[g].slots[id].state = .empty }
        case .process(let pid, let deadline):
            // Still the same process with the same deadline: an earlier
            // deadline of this turn may have moved it on.
            guard let role = groups[g].slots[id].role(of: pid), let process = groups[g].slots[id][role],
                  process.deadline?.due == deadline else { return }
            fire(deadline, process, role, g, id, now: now)
        }
    }

    private mutating func fire(_ deadline: ProcessDeadline, _ process: WorkerProcess, _ role: ProcessRole,
                               _ g: Int, _ id: Int, now: MonotonicInstant) {
        let worker = "\(ref(g, id))[\(process.pid)]"
        switch deadline {
        case .warmedUp:
            becameReady(g, id, role, now: now)
        case .readinessTimeout:
            let timeout = HumanFormat.duration(seconds: groups[g].config.readyTimeout)
            log(.warning, about: ref(g, id), pid: process.pid, "not ready within \(timeout); stopping it")
            stopProcess(g, id, role, reason: .notReady, now: now)
            let inReload = groups[g].reload?.stepIndex(slot: id) != nil
            if role == .successor || inReload {
                let what = role == .successor ? "the successor" : "the new process"
                failReload(g, reason: "\(what) \(worker) was not ready within \(timeout)", failedPid: process.pid, now: now)
            }
        case .watchdogExpired:
            let seconds = HumanFormat.duration(seconds: groups[g].config.watchdogSeconds ?? 0)
            log(.warning, about: ref(g, id), pid: process.pid, "sent no WATCHDOG=1 for \(seconds): hung; sending SIGABRT")
            stopProcess(g, id, role, reason: .watchdog, now: now, signal: .abort)
        case .stopTimeout:
            guard var order = process.stopOrder else { return }
            order.killSent = true
            var killed = process
            killed.phase = .stopping(order)
            groups[g].slots[id].update(role, killed)
            log(.warning, about: ref(g, id), pid: process.pid, "still running \(HumanFormat.duration(seconds: order.stopTimeout)) after \(order.signal); sending SIGKILL")
            emit(.signalProcessGroup(leader: process.pid, .kill))
        }
    }
}
