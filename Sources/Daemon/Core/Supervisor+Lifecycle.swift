import Shared

/// Process lifecycle: spawned, ready, exited, deadlines. Every decision about
/// what follows an exit is taken here, at exit time, from the slot's current
/// wishes, so a stop, scale or reload that arrived meanwhile is honoured.
extension Supervisor {
    mutating func processSpawned(_ ref: WorkerRef, pid: Int32, now: MonotonicInstant) {
        guard let g = groupIndex(of: ref),
              ref.id < groups[g].slots.count, groups[g].slots[ref.id].state == .spawning else {
            log(.error, "spawned \(ref) pid \(pid) for a slot that was not waiting for it; stopping it")
            emit(.signal(pid: pid, .kill))
            return
        }
        let config = groups[g].config
        let phase: WorkerProcess.Phase
        switch config.readiness {
        case .none: phase = .running(readySince: now)
        case .notify: phase = .starting(readyBy: now.adding(seconds: config.readyTimeout))
        case .afterSeconds(let seconds): phase = .starting(readyBy: now.adding(seconds: seconds))
        }
        var process = WorkerProcess(pid: pid, generation: groups[g].generation, startedAt: now, phase: phase)
        process.becameReady = config.readiness == .none
        groups[g].slots[ref.id].state = .live(process)
        owners[pid] = ref
        log(.info, "worker \(ref) started, pid \(pid)")
        if !slotWanted(g, ref.id) {
            stopProcess(g, ref.id, reason: .shutdown, now: now)
        } else if process.becameReady {
            processBecameReady(g, ref.id, now: now)
        }
    }

    mutating func processSpawnFailure(_ ref: WorkerRef, reason: String, now: MonotonicInstant) {
        guard let g = groupIndex(of: ref),
              ref.id < groups[g].slots.count, groups[g].slots[ref.id].state == .spawning else { return }
        groups[g].slots[ref.id].lastExit = LastExit(cause: .spawnFailed(reason), at: now, uptime: 0)
        log(.error, "worker \(ref) failed to start: \(reason)")
        abortReloadIfReplacing(g, ref.id, reason: "\(ref) failed to start: \(reason)")
        scheduleRespawnAfterFailure(g, ref.id, quick: true, now: now)
    }

    mutating func processReady(pid: Int32, now: MonotonicInstant) {
        guard let ref = owners[pid], let g = groupIndex(of: ref),
              var process = groups[g].slots[ref.id].process, case .starting = process.phase else { return }
        process.phase = .running(readySince: now)
        process.becameReady = true
        groups[g].slots[ref.id].state = .live(process)
        log(.info, "worker \(ref) pid \(pid) is ready")
        processBecameReady(g, ref.id, now: now)
    }

    /// A ready process in the slot a rolling reload is replacing completes
    /// that step; the reload moves on to the next slot.
    private mutating func processBecameReady(_ g: Int, _ id: Int, now: MonotonicInstant) {
        guard let reload = groups[g].reload, reload.currentSlot == id,
              let process = groups[g].slots[id].process else { return }
        let ref = WorkerRef(group: groups[g].name, id: id)
        emit(.notice(.replaced(ref, oldPid: reload.replacingPid ?? 0, newPid: process.pid)))
        groups[g].reload?.replaced += 1
        clearReloadStep(g)
        advanceReload(g, now: now)
    }

    mutating func processExit(pid: Int32, status: ExitStatus, now: MonotonicInstant) {
        guard let ref = owners.removeValue(forKey: pid) else {
            // A grandchild reparented to us as child subreaper: reaped, nothing to supervise.
            log(.info, "reaped pid \(pid) (not a worker, \(status))")
            return
        }
        guard let g = groupIndex(of: ref),
              let process = groups[g].slots[ref.id].process, process.pid == pid else { return }
        let id = ref.id
        let uptime = now.seconds(since: process.startedAt)
        var stopOrder: StopOrder?
        if case .stopping(let order) = process.phase { stopOrder = order }
        let exit = LastExit(
            cause: .exited(status), at: now, uptime: uptime,
            killedAfterTimeout: stopOrder?.killSent == true ? stopOrder?.stopTimeout : nil)
        groups[g].exits.record(status)
        groups[g].slots[id].lastExit = exit
        groups[g].slots[id].state = .empty
        let during = stopOrder.map { " (\($0.reason))" } ?? ""
        log(status.isSuccess || stopOrder != nil ? .info : .warning,
            "worker[\(ref.group):\(pid)] #\(id) \(exit.description) after \(HumanFormat.duration(seconds: uptime))\(during)")

        let replacingThisSlot = groups[g].reload?.currentSlot == id
        if !slotWanted(g, id) {
            if replacingThisSlot { clearReloadStep(g) }
            settle(g)
            if let g = groupIndex(of: ref) { advanceReload(g, now: now) }
            return
        }
        if let order = stopOrder, order.reason != .notReady {
            // appd asked for this exit: replace it at once, no backoff.
            spawn(g, id)
            return
        }
        if replacingThisSlot {
            abortReloadIfReplacing(g, id, reason: "the replacement \(ref) pid \(pid) \(exit.description) before it was ready")
        }
        groups[g].slots[id].restarts += 1
        scheduleRespawnAfterFailure(g, id, quick: backoff.isQuickDeath(uptime: uptime, becameReady: process.becameReady), now: now)
    }

    /// Respawns now after a healthy run, or after a growing delay when the
    /// slot keeps dying quickly.
    private mutating func scheduleRespawnAfterFailure(_ g: Int, _ id: Int, quick: Bool, now: MonotonicInstant) {
        guard slotWanted(g, id) else {
            groups[g].slots[id].state = .empty
            settle(g)
            return
        }
        groups[g].slots[id].consecutiveFailures = quick ? groups[g].slots[id].consecutiveFailures + 1 : 0
        let failures = groups[g].slots[id].consecutiveFailures
        let delay = backoff.delay(afterConsecutiveFailures: failures)
        if delay == 0 {
            spawn(g, id)
        } else {
            groups[g].slots[id].state = .backingOff(until: now.adding(seconds: delay))
            log(.warning, "worker \(groups[g].name)#\(id) restarts in \(HumanFormat.duration(seconds: delay)) (backoff after \(failures) quick exits in a row)")
        }
    }

    mutating func processDeadlines(now: MonotonicInstant) {
        for g in groups.indices {
            for id in groups[g].slots.indices {
                switch groups[g].slots[id].state {
                case .backingOff(let until) where until <= now:
                    if slotWanted(g, id) { spawn(g, id) } else { groups[g].slots[id].state = .empty }
                case .live(var process):
                    switch process.phase {
                    case .starting(let readyBy) where readyBy <= now:
                        if case .afterSeconds = groups[g].config.readiness {
                            process.phase = .running(readySince: now)
                            process.becameReady = true
                            groups[g].slots[id].state = .live(process)
                            processBecameReady(g, id, now: now)
                        } else {
                            let ref = WorkerRef(group: groups[g].name, id: id)
                            let timeout = HumanFormat.duration(seconds: groups[g].config.readyTimeout)
                            log(.warning, "worker \(ref) pid \(process.pid) not ready within \(timeout); stopping it")
                            abortReloadIfReplacing(g, id, reason: "the replacement \(ref) pid \(process.pid) was not ready within \(timeout)")
                            stopProcess(g, id, reason: .notReady, now: now)
                        }
                    case .stopping(var order) where !order.killSent && order.killAt <= now:
                        order.killSent = true
                        process.phase = .stopping(order)
                        groups[g].slots[id].state = .live(process)
                        log(.warning, "worker \(groups[g].name)#\(id) pid \(process.pid) still running \(HumanFormat.duration(seconds: order.stopTimeout)) after \(order.signal); sending SIGKILL")
                        emit(.signalProcessGroup(leader: process.pid, .kill))
                    default:
                        break
                    }
                default:
                    break
                }
            }
        }
    }
}
