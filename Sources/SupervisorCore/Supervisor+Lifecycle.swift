import Shared

/// Process lifecycle: spawned, ready, watchdog, exited. Every decision about
/// what follows an exit is taken here, at exit time, from the slot's current
/// wishes, so a stop, scale or reload that arrived meanwhile is honoured.
extension Supervisor {
    mutating func processSpawned(_ ref: WorkerRef, _ role: ProcessRole, pid: Int32, now: MonotonicInstant) {
        guard let g = groupIndex(of: ref), ref.id < groups[g].slots.count, isAwaitingSpawn(g, ref.id, role) else {
            assertionFailure("spawned \(ref)[\(pid)] (\(role)) for a slot that was not waiting for it")
            log(.error, about: ref, pid: pid, "was spawned for a slot that was not waiting for it; stopping it")
            emit(.signal(pid: pid, .kill))
            return
        }
        let config = groups[g].config
        let phase: WorkerProcess.Phase
        switch config.readiness {
        case .none: phase = .ready(watchdogDue: nil)
        case .notify: phase = .awaitingReady(deadline: now.adding(seconds: config.readyTimeout))
        case .afterSeconds(let seconds): phase = .warmingUp(readyAt: now.adding(seconds: seconds))
        }
        let process = WorkerProcess(pid: pid, generation: groups[g].generation, startedAt: now, phase: phase)
        switch role {
        case .current:
            groups[g].slots[ref.id].state = .live(process)
            log(.info, about: ref, pid: pid, "started")
        case .successor:
            groups[g].slots[ref.id].successor = .live(process)
            // Not `process.map { ... }`: that form crashes the Swift 6.3.1 optimizer in a release build.
            let incumbent = groups[g].slots[ref.id].process?.pid
            log(.info, about: ref, pid: pid, "started beside \(ref)\(incumbent.map { "[\($0)]" } ?? "") (generation \(process.generation))")
        case .outgoing:
            preconditionFailure("an outgoing process is never spawned")
        }
        owners[pid] = ref
        if !slotWanted(g, ref.id) {
            stopProcess(g, ref.id, role, reason: .shutdown, now: now)
        } else if role == .successor, groups[g].reload?.steps.contains(where: { $0.slot == ref.id && $0.phase == .successorStarting }) != true {
            // Its reload ended while the spawn was on its way (another
            // successor of the batch failed first): not needed.
            stopProcess(g, ref.id, role, reason: .reloadAborted, now: now)
        } else if config.readiness == .none {
            becameReady(g, ref.id, role, now: now)
        }
    }

    private func isAwaitingSpawn(_ g: Int, _ id: Int, _ role: ProcessRole) -> Bool {
        switch role {
        case .current: return groups[g].slots[id].state == .spawning
        case .successor: return groups[g].slots[id].successor == .spawning
        case .outgoing: return false
        }
    }

    mutating func processSpawnFailure(_ ref: WorkerRef, _ role: ProcessRole, reason: String, now: MonotonicInstant) {
        guard let g = groupIndex(of: ref), ref.id < groups[g].slots.count, isAwaitingSpawn(g, ref.id, role) else {
            assertionFailure("spawn failure of \(ref) \(role) for a slot that was not waiting for it")
            return
        }
        groups[g].exits.recordSpawnFailure()
        log(.error, about: ref, "failed to start: \(reason)")
        switch role {
        case .current:
            groups[g].slots[ref.id].lastExit = LastExit(cause: .spawnFailed(reason), at: now, uptime: 0)
            if groups[g].reload?.stepIndex(slot: ref.id) != nil {
                failReload(g, reason: "\(ref) failed to start: \(reason)", failedPid: nil, now: now)
            }
            followUnrequestedEnd(g, ref.id, success: false, exit: "failed to start: \(reason)", quick: true, now: now)
        case .successor:
            groups[g].slots[ref.id].successor = nil
            failReload(g, reason: "the successor of \(ref) failed to start: \(reason)", failedPid: nil, now: now)
        case .outgoing:
            preconditionFailure("an outgoing process is never spawned")
        }
    }

    mutating func processReady(pid: Int32, now: MonotonicInstant) {
        guard let (g, id, role) = locate(pid), case .awaitingReady = groups[g].slots[id][role]?.phase else { return }
        becameReady(g, id, role, now: now)
    }

    mutating func processWatchdogPing(pid: Int32, now: MonotonicInstant) {
        guard let (g, id, role) = locate(pid), var process = groups[g].slots[id][role],
              case .ready(.some) = process.phase, let seconds = groups[g].config.watchdogSeconds else { return }
        process.phase = .ready(watchdogDue: now.adding(seconds: seconds))
        groups[g].slots[id].update(role, process)
    }

    /// The group, slot and role of a live process.
    public func locate(_ pid: Int32) -> (Int, Int, ProcessRole)? {
        guard let ref = owners[pid], let g = groupIndex(of: ref), ref.id < groups[g].slots.count,
              let role = groups[g].slots[ref.id].role(of: pid) else { return nil }
        return (g, ref.id, role)
    }

    /// A process passed its readiness rule. The slot's current process may
    /// complete a reload step; a successor takes the slot over.
    mutating func becameReady(_ g: Int, _ id: Int, _ role: ProcessRole, now: MonotonicInstant) {
        guard var process = groups[g].slots[id][role] else { return }
        process.phase = .ready(watchdogDue: groups[g].config.watchdogSeconds.map { now.adding(seconds: $0) })
        process.readySince = now
        groups[g].slots[id].update(role, process)
        // Worth a line when the worker said so; a timed rule's readiness
        // follows from the start line.
        if groups[g].config.readiness == .notify { log(.info, about: ref(g, id), pid: process.pid, "is ready") }
        switch role {
        case .current:
            if let index = groups[g].reload?.stepIndex(slot: id), groups[g].reload?.steps[index].phase == .replacementStarting {
                completeStep(g, index, newPid: process.pid, now: now)
            }
        case .successor:
            successorTakesOver(g, id, now: now)
        case .outgoing:
            assertionFailure("an outgoing process is stopping; it cannot become ready")
        }
    }

    mutating func processExit(pid: Int32, status: ExitStatus, now: MonotonicInstant) {
        guard let ref = owners.removeValue(forKey: pid) else {
            // A grandchild reparented to us as child subreaper: reaped, nothing to supervise.
            log(.info, "reaped pid \(pid) (not a worker, \(status))")
            return
        }
        guard let g = groupIndex(of: ref), ref.id < groups[g].slots.count,
              let role = groups[g].slots[ref.id].role(of: pid), let process = groups[g].slots[ref.id][role] else {
            assertionFailure("\(ref)[\(pid)] is in no slot")
            return
        }
        let id = ref.id
        let uptime = now.seconds(since: process.startedAt)
        let order = process.stopOrder
        let failure: FailureKind? = order.map { $0.reason.failure } ?? (groups[g].config.isSuccess(status) ? nil : .status(status))
        groups[g].exits.recordExit(failure: failure, reason: ExitTally.reason(of: status, stopReason: order?.reason))
        let exit = LastExit(
            cause: .exited(status), at: now, uptime: uptime, stopReason: order?.reason,
            killedAfterTimeout: order?.killSent == true ? order?.stopTimeout : nil)
        let during = order.map { " (\($0.reason))" } ?? ""
        log(failure == nil ? .info : .warning, about: ref, pid: pid,
            "\(exit.description) after \(HumanFormat.duration(seconds: uptime))\(during)")

        switch role {
        case .outgoing:
            groups[g].slots[id].outgoing = nil
            groups[g].slots[id].lastExit = exit
            if let index = groups[g].reload?.stepIndex(slot: id), groups[g].reload?.steps[index].phase == .oldDraining {
                groups[g].reload?.steps.remove(at: index)
            }
            settleAndAdvance(ref, now: now)
        case .successor:
            groups[g].slots[id].successor = nil
            if order == nil, let index = groups[g].reload?.stepIndex(slot: id),
               groups[g].reload?.steps[index].phase == .successorStarting {
                failReload(g, reason: "the successor \(ref)[\(pid)] \(exit.description) after \(HumanFormat.duration(seconds: uptime)), before it was ready", failedPid: pid, now: now)
            }
            settle(g)
        case .current:
            groups[g].slots[id].lastExit = exit
            groups[g].slots[id].state = .empty
            currentExited(g, id, process, order: order, failure: failure, exit: exit, now: now)
        }
    }

    private mutating func currentExited(_ g: Int, _ id: Int, _ process: WorkerProcess, order: StopOrder?,
                                        failure: FailureKind?, exit: LastExit, now: MonotonicInstant) {
        let ref = ref(g, id)
        let stepIndex = groups[g].reload?.stepIndex(slot: id)
        guard slotWanted(g, id) else {
            if let stepIndex { groups[g].reload?.steps.remove(at: stepIndex) }
            settleAndAdvance(ref, now: now)
            return
        }
        let askedFor = order != nil && failure == nil

        // A successor still waiting for its spawn is not needed: the slot is
        // restarted below with the new settings, and the reload waits for
        // that process as it would for a stop-first replacement.
        if groups[g].slots[id].successor == .spawning {
            groups[g].slots[id].successor = nil
            if let stepIndex { groups[g].reload?.steps[stepIndex].phase = .replacementStarting }
        }
        // The old process died during the overlap: its successor, already
        // starting, takes the slot; the reload waits for it to be ready.
        if let successor = groups[g].slots[id].liveSuccessor {
            if !askedFor { countRestart(g, id) }
            groups[g].slots[id].successor = nil
            groups[g].slots[id].state = .live(successor)
            if let stepIndex { groups[g].reload?.steps[stepIndex].phase = .replacementStarting }
            return
        }
        if askedFor {
            // appd stopped it on purpose: replace it at once, no backoff.
            if let stepIndex, groups[g].reload?.steps[stepIndex].phase == .oldStopping {
                groups[g].reload?.steps[stepIndex].phase = .replacementStarting
            }
            spawn(g, id)
            return
        }
        if let stepIndex, let step = groups[g].reload?.steps[stepIndex],
           step.phase == .replacementStarting || step.phase == .oldDraining {
            let when = process.readySince == nil ? "before it was ready" : "right after it took over"
            failReload(g, reason: "the new process \(ref)[\(process.pid)] \(exit.description) after \(HumanFormat.duration(seconds: exit.uptime)), \(when)", failedPid: process.pid, now: now)
        }
        followUnrequestedEnd(g, id, success: failure == nil, exit: exit.description,
                             quick: backoff.isQuickDeath(uptime: exit.uptime, becameReady: process.readySince != nil), now: now)
    }

    /// A process ended without appd asking (or failed to start): by the
    /// group's restart policy and restart limit, another follows (after a
    /// backoff when it died quickly) or the worker id is finished.
    private mutating func followUnrequestedEnd(_ g: Int, _ id: Int, success: Bool, exit: String, quick: Bool, now: MonotonicInstant) {
        let config = groups[g].config
        switch config.restart {
        case .never:
            finishSlot(g, id, success ? .completed : .failed(reason: "\(exit); restart is \"never\""))
            return
        case .onFailure where success:
            finishSlot(g, id, .completed)
            return
        case .always, .onFailure:
            break
        }
        // Only failures count toward the limit: a worker that exits with
        // success to be recycled (Workerman's, gunicorn's --max-requests)
        // is restarted for as long as it does so.
        if !success {
            let window = config.restartWindow
            groups[g].slots[id].recentRestarts.removeAll { now.seconds(since: $0) >= window }
            guard groups[g].slots[id].recentRestarts.count < config.maxRestarts else {
                let reason = "gave up after \(counted(config.maxRestarts, "restart", "restarts")) in \(HumanFormat.duration(seconds: window)); last: \(exit)"
                finishSlot(g, id, .failed(reason: reason))
                return
            }
            groups[g].slots[id].recentRestarts.append(now)
        }
        countRestart(g, id)
        scheduleRespawnAfterFailure(g, id, quick: quick, now: now)
    }

    /// No process follows on this worker id until the operator asks.
    private mutating func finishSlot(_ g: Int, _ id: Int, _ finish: SlotFinish) {
        guard slotWanted(g, id) else {
            groups[g].slots[id].state = .empty
            settle(g)
            return
        }
        groups[g].slots[id].state = .finished(finish)
        switch finish {
        case .completed:
            log(.info, about: ref(g, id), "completed; by its restart policy (\(groups[g].config.restart.rawValue)) no process follows")
        case .failed(let reason):
            log(.error, about: ref(g, id), "failed and is not restarted: \(reason); `appctl start \(groups[g].name)` retries it")
        }
        settle(g)
    }

    /// The slot's process is started again after an exit appd did not ask
    /// for: counted on the slot (status) and on the group, whose count
    /// outlives a scale-down (metrics).
    private mutating func countRestart(_ g: Int, _ id: Int) {
        groups[g].slots[id].restarts += 1
        groups[g].exits.recordRestart()
    }

    /// Settles the slot's group (which may go away) and lets its reload move on.
    private mutating func settleAndAdvance(_ ref: WorkerRef, now: MonotonicInstant) {
        guard let g = groupIndex(of: ref) else { return }
        settle(g)
        if let g = groupIndex(of: ref) { advanceReload(g, now: now) }
    }

    /// Respawns now after a healthy run, or after a growing delay when the
    /// slot keeps dying quickly.
    mutating func scheduleRespawnAfterFailure(_ g: Int, _ id: Int, quick: Bool, now: MonotonicInstant) {
        guard slotWanted(g, id) else {
            groups[g].slots[id].state = .empty
            settle(g)
            return
        }
        groups[g].slots[id].consecutiveFailures = quick ? groups[g].slots[id].consecutiveFailures + 1 : 0
        let failures = groups[g].slots[id].consecutiveFailures
        let delay = backoff.delay(afterConsecutiveFailures: failures)
        let wanted = now.adding(seconds: delay)
        let limit = RestartIntensity.limit(forCount: groups[g].config.count)
        let at = groups[g].intensity.schedule(earliest: wanted, limit: limit)
        if at > wanted {
            if groups[g].restartsHeldUntil.map({ $0 <= now }) ?? true {
                log(.warning, "group \(groups[g].name) restarts too often (more than \(limit) in \(HumanFormat.duration(seconds: RestartIntensity.window))): holding its restarts back")
            }
            groups[g].restartsHeldUntil = at
        }
        if at == now {
            spawn(g, id)
        } else {
            groups[g].slots[id].state = .backingOff(until: at)
            if delay > 0 {
                let streak = failures == 1 ? "a quick exit" : "\(failures) quick exits in a row"
                log(.warning, about: ref(g, id), "restarts in \(HumanFormat.duration(seconds: delay)) (backoff after \(streak))")
            }
        }
    }

    /// The shell dropped a spawn the core no longer wanted (the slot was
    /// stopped or its reload ended before the spawn's turn came).
    mutating func processSpawnCancelled(_ ref: WorkerRef, _ role: ProcessRole) {
        guard let g = groupIndex(of: ref), ref.id < groups[g].slots.count, isAwaitingSpawn(g, ref.id, role) else { return }
        switch role {
        case .current: groups[g].slots[ref.id].state = .empty
        case .successor: groups[g].slots[ref.id].successor = nil
        case .outgoing: preconditionFailure("an outgoing process is never spawned")
        }
        settle(g)
    }

    /// A spawn order that waited for its turn, as it stands now: nil when
    /// the core no longer wants it, else with the group's settings and
    /// generation of this moment (a reload may have come meanwhile: every
    /// spawn after it uses the new settings, and counts as current).
    public func orderToCarryOut(_ order: SpawnOrder) -> SpawnOrder? {
        guard let g = groupIndex(of: order.worker), order.worker.id < groups[g].slots.count,
              isAwaitingSpawn(g, order.worker.id, order.role), slotWanted(g, order.worker.id) else { return nil }
        if order.role == .successor,
           groups[g].reload?.steps.contains(where: { $0.slot == order.worker.id && $0.phase == .successorStarting }) != true {
            return nil
        }
        return SpawnOrder(worker: order.worker, role: order.role, generation: groups[g].generation, config: groups[g].config)
    }
}
