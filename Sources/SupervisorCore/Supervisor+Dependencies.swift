import Shared

/// `dependsOn` and `autostart`: a group starts only once the groups it
/// depends on have their count of processes ready (or completed, for a
/// one-shot job such as a migration), and when the daemon stops it is
/// stopped before them, once nothing that depends on it runs.
///
/// The order applies to starting a group (the daemon's start, `appctl
/// start`, a group a reload adds); a worker that crashes later is respawned
/// at once, as ever, whatever its dependencies do (systemd's `After=`
/// orders jobs, not crashes). A reload rolls every group at once.
extension Supervisor {
    /// Whether a group serves as configured, for those that depend on it.
    func isReadyForDependents(_ g: Int) -> Bool {
        groups[g].wantsRunning && groups[g].readyCount + groups[g].completedCount >= groups[g].config.count
    }

    /// The dependencies of group `g` that are not ready yet.
    func unreadyDependencies(of g: Int) -> [String] {
        groups[g].config.dependsOn.filter { name in
            guard let d = groupIndex(named: name) else { return false }  // removed by a reload: nothing to wait for
            return !isReadyForDependents(d)
        }
    }

    /// Starts group `g`'s empty worker ids, or makes it wait for its
    /// dependencies (starting those that are stopped: a group is not left
    /// waiting for one nobody will start).
    mutating func startOrWait(_ g: Int) {
        for name in groups[g].config.dependsOn {
            guard let d = groupIndex(named: name), !groups[d].wantsRunning else { continue }
            log(.info, "starting group \(name): group \(groups[g].name) depends on it")
            groups[d].wantsRunning = true
            startOrWait(d)
        }
        let waiting = unreadyDependencies(of: g)
        groups[g].waitingFor = waiting
        guard waiting.isEmpty else {
            log(.info, "group \(groups[g].name) waits for \(waiting.joined(separator: ", ")) to be ready")
            return
        }
        for id in groups[g].slots.indices where groups[g].slots[id].state == .empty && slotWanted(g, id) { spawn(g, id) }
    }

    /// Called after every event and request: groups whose dependencies
    /// became ready start now.
    mutating func startGroupsWhoseDependenciesAreReady() {
        guard !isStopping else { return }
        var started = true
        // A group starting can make another ready at once (count 0): repeat until nothing changes.
        while started {
            started = false
            for g in groups.indices where !groups[g].waitingFor.isEmpty && groups[g].wantsRunning {
                let waiting = unreadyDependencies(of: g)
                groups[g].waitingFor = waiting
                guard waiting.isEmpty else { continue }
                log(.info, "group \(groups[g].name) starts: \(groups[g].config.dependsOn.joined(separator: ", ")) ready")
                for id in groups[g].slots.indices where groups[g].slots[id].state == .empty && slotWanted(g, id) { spawn(g, id) }
                started = true
            }
        }
    }

    // MARK: - Stopping in reverse order

    /// Whether a group still has a process (starting, running or
    /// stopping) in a group that depends on it.
    func hasRunningDependents(_ g: Int) -> Bool {
        let name = groups[g].name
        return groups.contains { $0.config.dependsOn.contains(name) && !$0.isQuiet }
    }

    /// At a daemon stop, the groups whose dependents are quiet are stopped;
    /// the others wait (`stopsAfterDependents`) and are stopped by
    /// `stopGroupsWhoseDependentsStopped` as their dependents go quiet.
    mutating func stopGroupsWhoseDependentsStopped(now: MonotonicInstant) {
        var stopped = true
        while stopped {
            stopped = false
            for g in groups.indices where groups[g].stopsAfterDependents && !hasRunningDependents(g) {
                groups[g].stopsAfterDependents = false
                stopSlots(g, reason: "the daemon is stopping", now: now)
                stopped = true
            }
        }
    }
}
