import Glibc
import Shared
import SupervisorCore

/// The status snapshot, built once for the `status` command and for the
/// status file alike, so both carry the same figures. Figures from /proc are
/// gathered here, when asked, never on a timer.
extension Daemon {
    func statusReport(group: String?) -> StatusReport {
        StatusReport(master: masterStatus(group: group), processes: processStatuses(group: group))
    }

    /// The master summary: cheap, so a client gets it before the process
    /// figures are read.
    func masterStatus(group: String?) -> MasterStatus {
        let wallNow = WallClock.now().seconds
        let summaries = supervisor.groups.filter { group == nil || $0.name == group }.map { workerGroup in
            let state: GroupSummary.State
            let problems = workerGroup.problems
            if workerGroup.reload != nil {
                state = .reloading
            } else if !workerGroup.wantsRunning {
                state = .stopped
            } else {
                state = problems.isEmpty ? .running : .degraded
            }
            return GroupSummary(
                name: workerGroup.name, count: workerGroup.config.count,
                running: workerGroup.liveProcesses.filter { !$0.isStopping }.count,
                ready: workerGroup.readyCount, starting: workerGroup.startingCount, backoff: workerGroup.backingOffCount,
                reloadable: workerGroup.config.reloadable, state: state,
                reason: problems.isEmpty ? nil : problems.joined(separator: "; "),
                listen: workerGroup.config.listen.map(\.description),
                exits: workerGroup.exits.failures.map {
                    GroupSummary.ExitCount(key: $0.kind.key, description: $0.kind.description, count: $0.count)
                })
        }
        let masterFigures = WorkerStatsCollector.master()
        return MasterStatus(
            pid: getpid(), startedAt: startedAt.seconds, uptime: wallNow - startedAt.seconds,
            loadAverage: masterFigures.loadAverage ?? [], groups: supervisor.groups.count,
            processes: supervisor.liveProcessCount, rss: masterFigures.rss, groupSummaries: summaries)
    }

    /// One item per slot, with figures read from /proc now.
    func processStatuses(group: String?) -> [ProcessStatus] {
        var all: [ProcessStatus] = []
        forEachProcessStatusSlice(group: group) { all += $0 }
        return all
    }

    /// The same in slices of `sliceSize` slots, each handed over as soon as
    /// its figures are read, so a client decodes the first slice while the
    /// master reads the next (with a thousand workers the /proc reads take
    /// tens of milliseconds).
    func forEachProcessStatusSlice(group: String?, sliceSize: Int = 128, _ deliver: ([ProcessStatus]) -> Void) {
        let now = MonotonicInstant.now()
        let wallNow = WallClock.now().seconds
        let slots = supervisor.groups.filter { group == nil || $0.name == group }
            .flatMap { workerGroup in workerGroup.slots.map { (group: workerGroup.name, slot: $0) } }
        var round = WorkerStatsCollector.Round()
        for start in stride(from: 0, to: slots.count, by: sliceSize) {
            let slice = slots[start..<min(start + sliceSize, slots.count)]
            let stats = statsCollector.collect(slice.flatMap { $0.slot.processes.map(\.pid) }, in: &round, now: now)
            deliver(slice.flatMap { processStatuses($0.slot, of: $0.group, stats: stats, now: now, wallNow: wallNow) })
        }
    }

    /// The slot's row, then one row each for a reload's successor and
    /// outgoing process while the slot briefly holds two.
    private func processStatuses(
        _ slot: WorkerSlot, of group: String, stats: [Int32: WorkerStats], now: MonotonicInstant, wallNow: Double
    ) -> [ProcessStatus] {
        var rows = [processStatus(slot, of: group, stats: stats, now: now, wallNow: wallNow)]
        for overlapping in [slot.liveSuccessor, slot.outgoing].compactMap({ $0 }) {
            var row = ProcessStatus(group: group, id: slot.id, pid: nil, state: .starting, uptime: nil, restarts: 0, lastExit: nil)
            describe(overlapping, into: &row, stats: stats, now: now)
            rows.append(row)
        }
        return rows
    }

    private func processStatus(
        _ slot: WorkerSlot, of group: String, stats: [Int32: WorkerStats], now: MonotonicInstant, wallNow: Double
    ) -> ProcessStatus {
        /// A monotonic instant as Unix time, for what people read.
        func wallTime(_ instant: MonotonicInstant) -> Double { wallNow - now.seconds(since: instant) }

        var process = ProcessStatus(
            group: group, id: slot.id, pid: nil, state: .stopped, uptime: nil,
            restarts: slot.restarts, lastExit: slot.lastExit.map { exit in
                switch exit.cause {
                case .exited(let status):
                    return ProcessStatus.LastExit(description: exit.description, status: status.key,
                                                  at: wallTime(exit.at), uptime: exit.uptime, requested: exit.stopReason?.key)
                case .spawnFailed:
                    return ProcessStatus.LastExit(description: exit.description, status: nil,
                                                  at: wallTime(exit.at), uptime: 0)
                }
            })
        switch slot.state {
        case .empty:
            break
        case .spawning:
            process.state = .starting
        case .backingOff(let until):
            process.state = .backoff
            process.backoffRemaining = until.seconds(since: now)
        case .live(let live):
            describe(live, into: &process, stats: stats, now: now)
        }
        return process
    }

    /// A live process's pid, state, uptime, /proc figures and own reports.
    private func describe(_ live: WorkerProcess, into process: inout ProcessStatus, stats: [Int32: WorkerStats], now: MonotonicInstant) {
        process.pid = live.pid
        process.uptime = now.seconds(since: live.startedAt)
        switch live.phase {
        case .awaitingReady, .warmingUp: process.state = .starting
        case .ready: process.state = .running
        case .stopping: process.state = .stopping
        }
        if let figures = stats[live.pid] {
            process.rss = figures.rss
            process.cpu = figures.cpuPercent
            process.fds = figures.openFDs
            process.threads = figures.threads
            process.tcp = figures.connections.filter { $0.state != .listen }
                .reduce(into: [:]) { $0[$1.state.key, default: 0] += 1 }
        }
        if let report = reports[live.pid] {
            process.statusText = report.statusText
            process.appStats = report.appStats
        }
    }

    /// Every TCP connection a worker holds (listening sockets are not
    /// connections: every worker of a group shares them).
    func connectionEntries(group: String?) -> [ConnectionEntry] {
        let stats = statsCollector.collect(livePids(group: group))
        var entries: [ConnectionEntry] = []
        for workerGroup in supervisor.groups where group == nil || workerGroup.name == group {
            for slot in workerGroup.slots {
                for pid in slot.processes.map(\.pid) {
                    guard let figures = stats[pid] else { continue }
                    for connection in figures.connections where connection.state != .listen {
                        entries.append(ConnectionEntry(
                            group: workerGroup.name, id: slot.id, pid: pid, local: connection.local, remote: connection.remote,
                            state: connection.state.name, sendQueue: connection.sendQueue, receiveQueue: connection.receiveQueue))
                    }
                }
            }
        }
        return entries
    }

    private func livePids(group: String?) -> [Int32] {
        supervisor.groups.filter { group == nil || $0.name == group }.flatMap { $0.slots.flatMap { $0.processes.map(\.pid) } }
    }
}
