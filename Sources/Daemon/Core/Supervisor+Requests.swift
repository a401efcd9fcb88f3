import Shared

/// Operator requests: stop, reload, restart, start, scale, signal. Signals and
/// control-socket commands both arrive here, so they behave the same.
extension Supervisor {
    /// Every rejection is thrown before anything changes, so a refused
    /// request leaves no state change and no effect behind.
    mutating func apply(_ request: SupervisorRequest, now: MonotonicInstant) throws(RequestRejection) -> [SupervisorEffect] {
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
            stopGroup(try index(of: name), reason: "group stopped", now: now)
        case .startGroup(let name):
            startGroup(try index(of: name))
        case .scale(let name, let count):
            let g = try index(of: name)
            guard count >= 0 else { throw .invalidCount(count) }
            log(.info, "group \(name) scaled from \(groups[g].config.count) to \(count)")
            groups[g].config.count = count
            resize(g, now: now)
        case .signal(let group, let signal):
            for g in try targets(group) {
                for process in groups[g].liveProcesses { emit(.signal(pid: process.pid, signal)) }
            }
        }
        return takeEffects()
    }

    private func index(of name: String) throws(RequestRejection) -> Int {
        guard let g = groupIndex(named: name) else { throw .unknownGroup(name) }
        return g
    }

    /// The named group, or every group.
    private func targets(_ name: String?) throws(RequestRejection) -> [Int] {
        guard let name else { return groups.indices.filter { !groups[$0].retiring } }
        return [try index(of: name)]
    }

    private mutating func stopDaemon(now: MonotonicInstant) {
        guard !isStopping else { return }
        isStopping = true
        log(.info, "stopping every group")
        for g in groups.indices {
            stopSlots(g, reason: "the daemon is stopping", now: now)
        }
        finishIfStopped()
    }

    /// Stops every process of a group, cancels its backoffs and its reload.
    private mutating func stopSlots(_ g: Int, reason: String, now: MonotonicInstant) {
        abortReload(g, reason: reason)
        for id in groups[g].slots.indices { vacate(g, id, now: now) }
    }

    /// Empties a slot that should hold nothing: its process is asked to
    /// stop, a pending restart is cancelled.
    private mutating func vacate(_ g: Int, _ id: Int, now: MonotonicInstant) {
        switch groups[g].slots[id].state {
        case .backingOff: groups[g].slots[id].state = .empty
        case .live: stopProcess(g, id, reason: .shutdown, now: now)
        case .empty, .spawning: break
        }
    }

    mutating func stopGroup(_ g: Int, reason: String, now: MonotonicInstant) {
        groups[g].wantsRunning = false
        stopSlots(g, reason: reason, now: now)
        settle(g)
    }

    private mutating func startGroup(_ g: Int) {
        groups[g].wantsRunning = true
        for id in groups[g].slots.indices where id < groups[g].config.count && groups[g].slots[id].state == .empty {
            spawn(g, id)
        }
    }

    /// Stop and start at once: every process is stopped and replaced as soon
    /// as it exits; a slot waiting out a backoff starts now.
    private mutating func restart(_ g: Int, now: MonotonicInstant) {
        abortReload(g, reason: "the group is restarting")
        groups[g].wantsRunning = true
        log(.info, "restarting group \(groups[g].name)")
        for id in groups[g].slots.indices where id < groups[g].config.count {
            groups[g].slots[id].consecutiveFailures = 0
            switch groups[g].slots[id].state {
            case .live: stopProcess(g, id, reason: .restart, now: now)
            case .backingOff, .empty: spawn(g, id)
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
                vacate(g, id, now: now)
            } else if groups[g].slots[id].state == .empty, slotWanted(g, id) {
                spawn(g, id)
            }
        }
        trimSlots(g)
    }

    // MARK: - Reload

    private mutating func reload(group: String?, config: DaemonConfig?, now: MonotonicInstant) throws(RequestRejection) {
        let busy = groups.filter { $0.reload != nil && (group == nil || $0.name == group) }
        if let first = busy.first { throw .reloadInProgress(group: first.name) }
        if let group {
            let known = config.map { $0.group(named: group) != nil } ?? (groupIndex(named: group) != nil)
            if !known { throw .unknownGroup(group) }
        }
        // Nothing may throw past this point: the request is now carried out whole.
        if let config { applyConfig(config, now: now) }
        let targets = group.flatMap(groupIndex(named:)).map { [$0] } ?? groups.indices.filter { !groups[$0].retiring }
        for g in targets {
            groups[g].generation += 1
            guard groups[g].wantsRunning else {
                emit(.notice(.reloadFinished(group: groups[g].name, .completed(replaced: 0))))
                continue
            }
            if groups[g].config.reloadable {
                log(.info, "rolling reload of group \(groups[g].name) begins")
                groups[g].reload = RollingReload()
                advanceReload(g, now: now)
            } else {
                let processes = groups[g].liveProcesses.filter { !$0.isStopping }
                for process in processes { emit(.signal(pid: process.pid, .user1)) }
                log(.info, "group \(groups[g].name) is not reloadable: sent SIGUSR1 to \(processes.count) processes")
                emit(.notice(.reloadFinished(group: groups[g].name, .signalled(processes: processes.count))))
            }
        }
    }

    /// Brings the running groups in line with a new configuration: removed
    /// groups stop and go, new ones start, counts change, and every later
    /// spawn uses the new settings.
    private mutating func applyConfig(_ config: DaemonConfig, now: MonotonicInstant) {
        for group in groups where !group.retiring && config.group(named: group.name) == nil {
            guard let g = groupIndex(named: group.name) else { continue }
            log(.info, "group \(group.name) is no longer configured; stopping it")
            groups[g].retiring = true
            stopGroup(g, reason: "the group was removed from the config", now: now)
        }
        for newConfig in config.groups {
            if let g = groups.firstIndex(where: { $0.name == newConfig.name }) {
                if groups[g].retiring {
                    groups[g].retiring = false
                    groups[g].wantsRunning = true
                }
                groups[g].config = newConfig
                resize(g, now: now)
            } else {
                log(.info, "group \(newConfig.name) added")
                groups.append(WorkerGroup(config: newConfig))
                let g = groups.count - 1
                groups[g].generation = 1
                for id in groups[g].slots.indices { spawn(g, id) }
            }
        }
    }

    /// Replaces the lowest slot whose process is older than the group's
    /// generation: stop it, respawn on exit, move on once the replacement is
    /// ready. Done when no out-of-date process is left.
    mutating func advanceReload(_ g: Int, now: MonotonicInstant) {
        guard let reload = groups[g].reload, reload.currentSlot == nil, !isStopping else { return }
        let generation = groups[g].generation
        let next = groups[g].slots.first { slot in
            guard slot.id < groups[g].config.count, let process = slot.process else { return false }
            return process.generation < generation && !process.isStopping
        }
        guard let next, let process = next.process else {
            log(.info, "rolling reload of group \(groups[g].name) done: \(reload.replaced) processes replaced")
            groups[g].reload = nil
            emit(.notice(.reloadFinished(group: groups[g].name, .completed(replaced: reload.replaced))))
            return
        }
        groups[g].reload?.currentSlot = next.id
        groups[g].reload?.replacingPid = process.pid
        stopProcess(g, next.id, reason: .reload, now: now)
    }

    mutating func clearReloadStep(_ g: Int) {
        groups[g].reload?.currentSlot = nil
        groups[g].reload?.replacingPid = nil
    }

    mutating func abortReloadIfReplacing(_ g: Int, _ id: Int, reason: String) {
        if groups[g].reload?.currentSlot == id { abortReload(g, reason: reason) }
    }

    /// Ends a reload early; the processes not yet replaced keep serving.
    mutating func abortReload(_ g: Int, reason: String) {
        guard let reload = groups[g].reload else { return }
        groups[g].reload = nil
        log(.warning, "rolling reload of group \(groups[g].name) aborted after \(reload.replaced) replaced: \(reason)")
        emit(.notice(.reloadFinished(group: groups[g].name, .aborted(reason: reason, replaced: reload.replaced))))
    }
}
