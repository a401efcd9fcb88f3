import Shared

/// The rolling reload. Start-first: for each out-of-date slot (up to
/// `maxSurge` at a time) a successor starts beside the running process; once
/// it is ready it takes the slot over and the old process is stopped
/// gracefully; the step ends when the old process has exited. Stop-first
/// (Workerman's order): stop the old process, start its successor when it
/// has exited, wait until that one is ready. A successor that fails aborts
/// the group's reload: it is stopped, every process not yet replaced keeps
/// serving untouched, and the group's settings roll back.
extension Supervisor {
    mutating func reload(group: String?, config: DaemonConfig?, now: MonotonicInstant) throws(RequestRejection) {
        let busy = groups.filter { $0.reload != nil && (group == nil || $0.name == group) }
        if let first = busy.first { throw .reloadInProgress(group: first.name) }
        if let group {
            let known = config.map { $0.group(named: group) != nil } ?? (groupIndex(named: group) != nil)
            if !known { throw .unknownGroup(group) }
        }
        // Nothing may throw past this point: the request is now carried out whole.
        let targets = group.map { [$0] } ?? config?.groups.map(\.name) ?? groups.filter { !$0.retiring }.map(\.name)
        // Raised before the new settings resize anything, so slots they add
        // start as current and are not replaced again.
        for name in targets {
            if let g = groups.firstIndex(where: { $0.name == name }) { groups[g].generation += 1 }
        }
        var changes = ConfigChanges()
        if let config { applyConfig(config, changes: &changes, now: now) }
        emit(.notice(.reloadBegan(groups: targets)))
        for name in targets {
            guard let g = groupIndex(named: name) else {
                assertionFailure("reload target \(name) vanished")
                continue
            }
            beginReload(g, changes: changes, now: now)
        }
    }

    /// What applying a new config did, per group, for the reload's report.
    public struct ConfigChanges {
        public internal(set) var previous: [String: GroupConfig] = [:]
        public internal(set) var added: Set<String> = []
        public internal(set) var notes: [String: [String]] = [:]
    }

    private mutating func beginReload(_ g: Int, changes: ConfigChanges, now: MonotonicInstant) {
        let name = groups[g].name
        let config = groups[g].config
        var notes = changes.notes[name] ?? []
        if changes.added.contains(name) {
            finishReload(g, ReloadResult(outcome: .completed, started: config.count, notes: notes + ["new group"]), begunAt: now, now: now)
            return
        }
        guard groups[g].wantsRunning else {
            notes.append("the group is stopped: `appctl start \(name)` starts it with these settings")
            finishReload(g, ReloadResult(outcome: .completed, notes: notes), begunAt: now, now: now)
            return
        }
        let previous = changes.previous[name]
        guard config.reloadable else {
            let processes = groups[g].liveProcesses.filter { !$0.isStopping }
            for process in processes { emit(.signal(pid: process.pid, .user1)) }
            if let previous, !previous.startsTheSameProcessAs(config) {
                notes.append("the command, environment, cwd or sockets changed, but the group is not reloadable: `appctl restart \(name)` applies them")
            }
            log(.info, "group \(name) is not reloadable: sent SIGUSR1 to \(counted(processes.count, "process", "processes"))")
            finishReload(g, ReloadResult(outcome: .signalled(processes: processes.count), notes: notes), begunAt: now, now: now)
            return
        }
        var rollback = previous
        if var unchanged = previous {
            unchanged.count = config.count
            if unchanged == config { rollback = nil }
        }
        log(.info, "rolling reload of group \(name) begins (\(config.reloadStrategy == .startFirst ? "start-first, \(config.maxSurge) at a time" : "stop-first"))")
        groups[g].reload = RollingReload(strategy: config.reloadStrategy, maxSurge: config.maxSurge, rollback: rollback, notes: notes,
                                         begunAt: now)
        advanceReload(g, now: now)
    }

    /// Brings the running groups in line with a new configuration: removed
    /// groups stop and go, new ones start, counts change, and every later
    /// spawn uses the new settings.
    private mutating func applyConfig(_ config: DaemonConfig, changes: inout ConfigChanges, now: MonotonicInstant) {
        for group in groups where !group.retiring && config.group(named: group.name) == nil {
            guard let g = groupIndex(named: group.name) else { continue }
            log(.info, "group \(group.name) is no longer configured; stopping it")
            groups[g].retiring = true
            stopGroup(g, reason: "the group was removed from the config", now: now)
        }
        for newConfig in config.groups {
            guard let g = groups.firstIndex(where: { $0.name == newConfig.name }) else {
                log(.info, "group \(newConfig.name) added")
                groups.append(WorkerGroup(config: newConfig))
                changes.added.insert(newConfig.name)
                if newConfig.autostart { startOrWait(groups.count - 1) } else { groups[groups.count - 1].wantsRunning = false }
                continue
            }
            if groups[g].retiring {
                groups[g].retiring = false
                groups[g].wantsRunning = true
            }
            let old = groups[g].config
            changes.previous[newConfig.name] = old
            if old.count != newConfig.count {
                changes.notes[newConfig.name, default: []].append("count \(old.count) → \(newConfig.count) from the config")
            }
            groups[g].config = newConfig
            resize(g, now: now)
        }
    }

    /// Starts steps while there is room, on the lowest out-of-date slots;
    /// ends the reload once none is left and no step is in flight.
    mutating func advanceReload(_ g: Int, now: MonotonicInstant) {
        guard let reload = groups[g].reload, !isStopping else { return }
        let inFlight = Set(reload.steps.map(\.slot))
        let due = groups[g].slots.prefix(groups[g].config.count).filter { !inFlight.contains($0.id) && needsReplacing($0, g) }
        // A slot still draining a process from an earlier reload waits, so
        // no slot ever holds more than one process on its way out.
        let startable = due.filter { $0.outgoing == nil && $0.successor == nil }
        for slot in startable.prefix(max(0, reload.width - reload.steps.count)) {
            beginStep(g, slot.id, now: now)
        }
        if due.isEmpty, groups[g].reload?.steps.isEmpty == true, let result = groups[g].reload?.result {
            groups[g].reload = nil
            groups[g].degradedReason = nil
            finishReload(g, result, begunAt: reload.begunAt, now: now)
        }
    }

    /// An out-of-date process still serving, or a slot backing off or
    /// finished (a reload is the operator's "try again now, with these
    /// settings": a failed worker is retried, a one-shot job runs again).
    private func needsReplacing(_ slot: WorkerSlot, _ g: Int) -> Bool {
        switch slot.state {
        case .live(let process): return process.generation < groups[g].generation && !process.isStopping
        case .backingOff, .finished: return true
        case .empty, .spawning: return false
        }
    }

    private mutating func beginStep(_ g: Int, _ id: Int, now: MonotonicInstant) {
        guard let strategy = groups[g].reload?.strategy else { return }
        let step: ReloadStep
        switch groups[g].slots[id].state {
        case .backingOff, .finished:
            let why = groups[g].slots[id].isBackingOff ? "backing off" : "finished"
            log(.info, about: ref(g, id), "was not running (\(why)): starting it now")
            groups[g].slots[id].forgetFailures()
            step = ReloadStep(slot: id, oldPid: nil, phase: .replacementStarting)
            spawn(g, id)
        case .live(let process) where strategy == .startFirst:
            step = ReloadStep(slot: id, oldPid: process.pid, phase: .successorStarting)
            spawnSuccessor(g, id)
        case .live(let process):
            step = ReloadStep(slot: id, oldPid: process.pid, phase: .oldStopping)
            stopProcess(g, id, .current, reason: .reload, now: now)
        case .empty, .spawning:
            assertionFailure("\(ref(g, id)) has nothing to replace")
            return
        }
        groups[g].reload?.steps.append(step)
    }

    /// The successor is ready: it becomes the slot's process and the old
    /// one is stopped; the step ends when the old one has exited.
    mutating func successorTakesOver(_ g: Int, _ id: Int, now: MonotonicInstant) {
        guard let successor = groups[g].slots[id].liveSuccessor, let old = groups[g].slots[id].process,
              let index = groups[g].reload?.stepIndex(slot: id) else {
            // Without a reload a successor is only ever stopping (its reload
            // was cancelled), and stopping processes do not become ready.
            assertionFailure("\(ref(g, id)) has a ready successor but no reload step or old process")
            return
        }
        assert(groups[g].slots[id].outgoing == nil, "\(ref(g, id)) would drain two processes")
        groups[g].slots[id].successor = nil
        groups[g].slots[id].state = .live(successor)
        groups[g].slots[id].outgoing = old
        stopProcess(g, id, .outgoing, reason: .reload, now: now)
        groups[g].reload?.steps[index].phase = .oldDraining
        groups[g].reload?.result.replaced += 1
        emit(.notice(.replaced(ref(g, id), oldPid: old.pid, newPid: successor.pid)))
    }

    /// The slot's new process is ready (stop-first, or a slot that was not
    /// running): the step is done.
    mutating func completeStep(_ g: Int, _ index: Int, newPid: Int32, now: MonotonicInstant) {
        guard let step = groups[g].reload?.steps.remove(at: index) else { return }
        if step.oldPid == nil {
            groups[g].reload?.result.started += 1
        } else {
            groups[g].reload?.result.replaced += 1
        }
        emit(.notice(.replaced(ref(g, step.slot), oldPid: step.oldPid, newPid: newPid)))
        advanceReload(g, now: now)
    }

    /// The new release failed: successors still starting are stopped, the
    /// processes not yet replaced keep serving untouched, the group's
    /// settings roll back to those that worked, and status shows the group
    /// degraded until a later reload completes.
    mutating func failReload(_ g: Int, reason: String, failedPid: Int32?, now: MonotonicInstant) {
        guard let reload = groups[g].reload else { return }
        groups[g].degradedReason = reason
        groups[g].reload?.result.failedPid = failedPid
        var notes: [String] = []
        if var restored = reload.rollback {
            restored.count = groups[g].config.count
            groups[g].config = restored
            notes.append("settings rolled back: restarts use the previous command and environment")
        }
        if reload.strategy == .startFirst, groups[g].config.listen.isEmpty {
            // The usual cause of a successor failing beside a healthy process.
            notes.append("a program that binds its own port or holds a lock cannot run twice: give it `listen` (sockets from appd) or reloadStrategy \"stopFirst\"")
        }
        endReload(g, reason: reason, notes: notes, now: now)
    }

    /// Ends a reload that was overtaken (a stop, a restart): not a failure
    /// of the release, so nothing is rolled back.
    mutating func cancelReload(_ g: Int, reason: String, now: MonotonicInstant) {
        endReload(g, reason: reason, notes: [], now: now)
    }

    private mutating func endReload(_ g: Int, reason: String, notes: [String], now: MonotonicInstant) {
        guard let reload = groups[g].reload else { return }
        groups[g].reload = nil
        var result = reload.result
        for step in reload.steps where step.phase == .successorStarting {
            stopProcess(g, step.slot, .successor, reason: .reloadAborted, now: now)
        }
        result.outcome = .aborted(reason: reason)
        result.notes += notes
        finishReload(g, result, begunAt: reload.begunAt, now: now)
    }

    private mutating func finishReload(_ g: Int, _ result: ReloadResult, begunAt: MonotonicInstant, now: MonotonicInstant) {
        let name = groups[g].name
        let finished = FinishedReload(at: now, result: result, duration: now.seconds(since: begunAt))
        groups[g].lastReload = finished
        groups[g].reloads.record(finished)
        switch result.outcome {
        case .completed:
            let started = result.started > 0 ? ", \(counted(result.started, "slot", "slots")) that was not running started" : ""
            log(.info, "rolling reload of group \(name) done: \(counted(result.replaced, "process", "processes")) replaced\(started)")
        case .signalled:
            break
        case .aborted(let reason):
            log(.warning, "rolling reload of group \(name) aborted after \(counted(result.replaced, "process", "processes")) replaced: \(reason); the processes not replaced keep running")
        }
        emit(.notice(.reloadFinished(group: name, result)))
    }
}
