import Shared

/// Operator requests: stop, reload, restart, start, scale, signal. Signals and
/// control-socket commands both arrive here, so they behave the same.
extension Supervisor {
    /// Every rejection is thrown before anything changes, so a refused
    /// request leaves no state change and no effect behind.
    public mutating func apply(_ request: SupervisorRequest, now: MonotonicInstant) throws(RequestRejection) -> [SupervisorEffect] {
        assert(pending.isEmpty, "effects left over from an earlier call")
        if isStopping, request != .stopDaemon { throw .daemonStopping }
        switch request {
        case .stopDaemon:
            stopDaemon(now: now)
        case .reload(let group, let config):
            try reload(group: group, config: config, now: now)
        case .restart(let group):
            for g in try targets(group) { restart(g, now: now) }
        case .stopGroup(let name):
            let g = try index(of: name)
            // Stopped and quiet: nothing to stop. (Stopped with processes
            // still on their way out: this stop waits for them too.)
            if !groups[g].wantsRunning, groups[g].isQuiet { throw .alreadyStopped(name) }
            stopGroup(g, reason: "group stopped", now: now)
        case .startGroup(let name):
            let g = try index(of: name)
            // A running group with finished worker ids is started again: the
            // operator's retry of a failed one, or a one-shot job's next run.
            if groups[g].wantsRunning, groups[g].finishedCount == 0 { throw .alreadyRunning(name) }
            startGroup(g)
        case .scale(let name, let count):
            let g = try index(of: name)
            guard count >= 0 else { throw .invalidCount(count) }
            // Whether the group runs or is stopped, the same count changes nothing.
            if groups[g].config.count == count { throw .alreadyAtCount(group: name, count: count) }
            log(.info, "group \(name) scaled from \(groups[g].config.count) to \(count)")
            groups[g].config.count = count
            resize(g, now: now)
        case .signal(let group, let signal):
            let processes = try targets(group).flatMap { groups[$0].liveProcesses }
            if processes.isEmpty { throw .noProcesses(group: group) }
            let target = group.map { " of group \($0)" } ?? ""
            log(.info, "sending \(signal) to \(counted(processes.count, "process", "processes"))\(target), as asked")
            for process in processes { emit(.signal(pid: process.pid, signal)) }
        }
        followDependencies(now: now)
        return takeEffects()
    }

    public func index(of name: String) throws(RequestRejection) -> Int {
        guard let g = groupIndex(named: name) else { throw .unknownGroup(name) }
        return g
    }

    /// The named group, or every group.
    private func targets(_ name: String?) throws(RequestRejection) -> [Int] {
        guard let name else { return groups.indices.filter { !groups[$0].retiring } }
        return [try index(of: name)]
    }

    /// Every group stops, those that others depend on only once those
    /// others have (`Supervisor+Dependencies`).
    private mutating func stopDaemon(now: MonotonicInstant) {
        guard !isStopping else { return }
        isStopping = true
        log(.info, "stopping every group")
        for g in groups.indices {
            groups[g].waitingFor = []
            if hasRunningDependents(g) {
                groups[g].stopsAfterDependents = true
                cancelReload(g, reason: "the daemon is stopping", now: now)
            } else {
                stopSlots(g, reason: "the daemon is stopping", now: now)
            }
        }
        finishIfStopped()
    }

    /// Stops every process of a group, cancels its backoffs and its reload.
    mutating func stopSlots(_ g: Int, reason: String, now: MonotonicInstant) {
        cancelReload(g, reason: reason, now: now)
        for id in groups[g].slots.indices { vacate(g, id, now: now) }
    }

    /// Empties a slot that should hold nothing: each of its processes is
    /// asked to stop, a pending restart is cancelled, a reload step on it
    /// is dropped (the slot is going away, not failing).
    private mutating func vacate(_ g: Int, _ id: Int, reason: StopReason = .shutdown, now: MonotonicInstant) {
        if let index = groups[g].reload?.stepIndex(slot: id) { groups[g].reload?.steps.remove(at: index) }
        switch groups[g].slots[id].state {
        case .backingOff, .finished: groups[g].slots[id].state = .empty
        case .live: stopProcess(g, id, .current, reason: reason, now: now)
        case .empty, .spawning: break
        }
        stopProcess(g, id, .successor, reason: reason, now: now)
        stopProcess(g, id, .outgoing, reason: reason, now: now)
    }

    mutating func stopGroup(_ g: Int, reason: String, now: MonotonicInstant) {
        groups[g].wantsRunning = false
        groups[g].waitingFor = []
        stopSlots(g, reason: reason, now: now)
        settle(g)
    }

    /// Starts the group's empty, failed and completed worker ids, once its
    /// dependencies are ready (`startOrWait`).
    private mutating func startGroup(_ g: Int) {
        groups[g].wantsRunning = true
        groups[g].restartsHeldUntil = nil
        for id in groups[g].slots.indices where groups[g].slots[id].finish != nil {
            groups[g].slots[id].forgetFailures()
            groups[g].slots[id].state = .empty
        }
        startOrWait(g)
    }

    /// Stop and start at once: every process is stopped and replaced as soon
    /// as it exits; a slot waiting out a backoff starts now.
    private mutating func restart(_ g: Int, now: MonotonicInstant) {
        cancelReload(g, reason: "the group is restarting", now: now)
        groups[g].wantsRunning = true
        groups[g].restartsHeldUntil = nil
        log(.info, "restarting group \(groups[g].name)")
        for id in groups[g].slots.indices where id < groups[g].config.count {
            groups[g].slots[id].forgetFailures()
            switch groups[g].slots[id].state {
            case .live: stopProcess(g, id, .current, reason: .restart, now: now)
            case .backingOff, .empty, .finished: spawn(g, id)
            case .spawning: break
            }
        }
    }

    /// Adds slots up to the count and stops those beyond it. Ids stay
    /// `0..<count`: a scale-down removes the highest ids.
    mutating func resize(_ g: Int, now: MonotonicInstant) {
        let count = groups[g].config.count
        while groups[g].slots.count < count {
            groups[g].slots.append(WorkerSlot(id: groups[g].slots.count))
        }
        for id in groups[g].slots.indices {
            if id >= count {
                vacate(g, id, reason: .scaledDown, now: now)
            } else if groups[g].slots[id].state == .empty, slotWanted(g, id) {
                spawn(g, id)
            }
        }
        trimSlots(g)
        advanceReload(g, now: now)
    }
}
