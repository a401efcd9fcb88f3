import Glibc
import Shared
import SupervisorCore

/// Status for `status`, `status --watch`, the status file and
/// `connections`: the core's state with figures read from /proc, gathered
/// when asked, never on a timer.
///
/// A snapshot for the control socket is resumable work (`StatusJob`): the
/// master summary goes at once, then the processes' rows in slices of
/// `processesPerTurn`, one slice per loop turn, so sampling five thousand
/// workers never holds up signals, exits and other clients for more than a
/// slice. Watchers of the same group and interval due together share one
/// job, so ten watchers cost one sampling, not ten (and do not reset each
/// other's CPU % deltas).
final class StatusService {
    /// Processes sampled per loop turn over every job, in steps of
    /// `processesPerStep`, none started once the turn's `TurnSlice` time is
    /// up: in a debug build a slice of 128 took 10-15 ms, which a respawn
    /// under ten watchers of a thousand workers waited out.
    static let processesPerTurn = 128
    static let processesPerStep = 32

    /// Queues encoded reply lines for a client (the control server's `send(lines:to:)`).
    var send: (_ lines: [UInt8], _ client: Int32) -> Void = { _, _ in }

    let startedAt = WallClock.now()
    /// Keeps the previous CPU sample of each worker, so CPU % is a delta
    /// between two requests rather than a sleep inside one.
    private var statsCollector: WorkerStatsCollector
    private var jobs: [StatusJob] = []

    /// Reads the held files of the sampler and of the workers' cgroup.procs.
    private let fileReads: ParallelFileReader?

    /// `sampler`: shared with `MetricsService`, so each process's /proc
    /// files are held open once. `fileReads`: the reader of `sampler` and of
    /// the workers' cgroup.procs, whose helper thread the one-shot
    /// snapshots use (nil: none).
    init(sampler: ProcessSampler = ProcessSampler(), fileReads: ParallelFileReader? = nil) {
        statsCollector = WorkerStatsCollector(sampler: sampler)
        self.fileReads = fileReads
    }

    var hasWork: Bool { !jobs.isEmpty }

    /// Each worker's processes, leader first (`ProcessGroupWatch.members`),
    /// so its row covers its whole tree.
    var members: ((_ pids: [Int32], _ tree: inout ProcessTree?) -> [Int32: [Int32]])? {
        get { statsCollector.members }
        set { statsCollector.members = newValue }
    }

    /// A worker's cgroup memory where there is one (`WorkerStatsCollector.chargedMemory`).
    var chargedMemory: (Int32) -> UInt64? {
        get { statsCollector.chargedMemory }
        set { statsCollector.chargedMemory = newValue }
    }

    /// A reaped worker's CPU baseline and open /proc files are of no further use.
    func forget(pid: Int32) { statsCollector.forget(pid: pid) }

    // MARK: - Snapshots in slices

    /// Starts a snapshot for `recipients`: the master summary now, the rows
    /// over the next turns (`continueWork`). A one-shot `status` goes before
    /// every watch tick, even one half sent (the others keep their order):
    /// someone is waiting for it, while a watcher's next screen is only due
    /// in a while, and with ten watchers of a thousand workers there is
    /// nearly always a tick in progress.
    func startSnapshot(group: String?, for recipients: [StatusJob.Recipient], supervisor: Supervisor) {
        let master = masterStatus(group: group, supervisor: supervisor)
        for recipient in recipients { send(ControlReply.item(id: recipient.request, .master(master)).encodedLine(), recipient.client) }
        let job = StatusJob(group: group, recipients: recipients, supervisor: supervisor)
        if job.isOneShot, let firstTick = jobs.firstIndex(where: { !$0.isOneShot }) {
            jobs.insert(job, at: firstTick)
        } else {
            jobs.append(job)
        }
    }

    /// The next slice of the pending snapshots, `processesPerTurn` rows in
    /// all (fewer when its time is up); a finished snapshot gets its end marker.
    func continueWork(supervisor: Supervisor, reports: [Int32: WorkerReport]) {
        var slice = TurnSlice(items: Self.processesPerTurn / Self.processesPerStep, seconds: TurnSlice.standardSeconds)
        // A one-shot status is read on two CPUs: someone waits for it. A
        // watch tick is not: nobody waits for it (it is due again in a
        // moment), and ten watchers' ticks on two CPUs would take a second
        // CPU from the workers and from respawns ten times a second
        // (bench/RESULTS-load.md: the respawns measured so far do not tell
        // whether that cost shows).
        defer { fileReads?.sharesWithHelper = false }
        while !jobs.isEmpty, slice.takeOne() {
            fileReads?.sharesWithHelper = jobs[0].isOneShot
            let slots = jobs[0].walk.nextSlots(limit: Self.processesPerStep, in: supervisor)
            let rows = self.rows(for: slots, round: &jobs[0].walk.round, reports: reports)
            jobs[0].sent += rows.count
            // Watchers asking under the same id (appctl always uses 1) get
            // the same bytes: a slice is encoded once per id, not per watcher.
            var linesByID: [Int: [UInt8]] = [:]
            for recipient in jobs[0].recipients where !rows.isEmpty {
                let lines = linesByID[recipient.request] ?? ProcessStatus.itemLines(rows, id: recipient.request)
                linesByID[recipient.request] = lines
                send(lines, recipient.client)
            }
            guard jobs[0].walk.isFinished else { continue }
            let job = jobs.removeFirst()
            for recipient in job.recipients {
                let end: ControlReply = recipient.streaming
                    ? .item(id: recipient.request, .snapshotEnd(SnapshotEnd(processes: job.sent)))
                    : .done(id: recipient.request, .status(processes: job.sent))
                send(end.encodedLine(), recipient.client)
            }
        }
    }

    private func rows(
        for slots: [(group: String, slot: WorkerSlot)], round: inout WorkerStatsCollector.Round, reports: [Int32: WorkerReport]
    ) -> [ProcessStatus] {
        guard !slots.isEmpty else { return [] }
        let now = MonotonicInstant.now()
        let wallNow = WallClock.now().seconds
        let stats = statsCollector.collect(slots.flatMap { $0.slot.processes.map(\.pid) }, in: &round, now: now)
        return slots.flatMap { processStatuses($0.slot, of: $0.group, stats: stats, reports: reports, now: now, wallNow: wallNow) }
    }

    // MARK: - Whole reports

    /// The whole snapshot at once, for the status file: the same rows as
    /// the control socket's, built by the same functions.
    func report(group: String?, supervisor: Supervisor, reports: [Int32: WorkerReport]) -> StatusReport {
        var walk = SlotWalk(group: group, supervisor: supervisor)
        var processes: [ProcessStatus] = []
        while !walk.isFinished {
            processes += rows(for: walk.nextSlots(limit: Self.processesPerTurn, in: supervisor), round: &walk.round, reports: reports)
        }
        return StatusReport(master: masterStatus(group: group, supervisor: supervisor), processes: processes)
    }

    // MARK: - Rows

    /// The master summary: cheap, so a client gets it before the process
    /// figures are read.
    func masterStatus(group: String?, supervisor: Supervisor) -> MasterStatus {
        let wallNow = WallClock.now().seconds
        let summaries = supervisor.groups.filter { group == nil || $0.name == group }.map { workerGroup in
            let state: GroupSummary.State
            var problems = workerGroup.problems
            if !workerGroup.waitingFor.isEmpty, workerGroup.wantsRunning {
                state = .waiting
                problems.insert("waiting for \(workerGroup.waitingFor.joined(separator: ", ")) to be ready (dependsOn)", at: 0)
            } else if workerGroup.reload != nil {
                state = .reloading
            } else if !workerGroup.wantsRunning {
                state = .stopped
            } else if problems.isEmpty, workerGroup.config.count > 0, workerGroup.completedCount == workerGroup.config.count {
                state = .completed
            } else {
                state = problems.isEmpty ? .running : .degraded
            }
            return GroupSummary(
                name: workerGroup.name, count: workerGroup.config.count,
                running: workerGroup.liveProcesses.filter { !$0.isStopping }.count,
                ready: workerGroup.readyCount, starting: workerGroup.startingCount, backoff: workerGroup.backingOffCount,
                failed: workerGroup.failedCount, completed: workerGroup.completedCount,
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

    /// The slot's row, then one row each for a reload's successor and
    /// outgoing process while the slot briefly holds two.
    private func processStatuses(
        _ slot: WorkerSlot, of group: String, stats: [Int32: WorkerStats], reports: [Int32: WorkerReport],
        now: MonotonicInstant, wallNow: Double
    ) -> [ProcessStatus] {
        var rows = [processStatus(slot, of: group, stats: stats, reports: reports, now: now, wallNow: wallNow)]
        for overlapping in [slot.liveSuccessor, slot.outgoing].compactMap({ $0 }) {
            var row = ProcessStatus(group: group, id: slot.id, pid: nil, state: .starting, uptime: nil, restarts: 0, lastExit: nil)
            describe(overlapping, into: &row, stats: stats, reports: reports, now: now)
            rows.append(row)
        }
        return rows
    }

    private func processStatus(
        _ slot: WorkerSlot, of group: String, stats: [Int32: WorkerStats], reports: [Int32: WorkerReport],
        now: MonotonicInstant, wallNow: Double
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
        process.state = ProcessStatus.State(slot)
        switch slot.state {
        case .empty, .spawning, .finished:
            break
        case .backingOff(let until):
            process.backoffRemaining = until.seconds(since: now)
        case .live(let live):
            describe(live, into: &process, stats: stats, reports: reports, now: now)
        }
        return process
    }

    /// A live process's pid, state, uptime, /proc figures and own reports.
    private func describe(
        _ live: WorkerProcess, into process: inout ProcessStatus, stats: [Int32: WorkerStats], reports: [Int32: WorkerReport],
        now: MonotonicInstant
    ) {
        process.pid = live.pid
        process.uptime = now.seconds(since: live.startedAt)
        process.state = ProcessStatus.State(live)
        if let figures = stats[live.pid] {
            process.rss = figures.rss
            process.cpu = figures.cpuPercent
            process.fds = figures.openFDs
            process.threads = figures.threads
            process.tcp = figures.connectionCounts
        }
        if let report = reports[live.pid] {
            process.statusText = report.statusText
            process.appStats = report.appStats
        }
    }

    /// Every TCP connection a worker holds (listening sockets are not
    /// connections: every worker of a group shares them).
    func connectionEntries(group: String?, supervisor: Supervisor) -> [ConnectionEntry] {
        let pids = supervisor.groups.filter { group == nil || $0.name == group }.flatMap { $0.slots.flatMap { $0.processes.map(\.pid) } }
        let stats = statsCollector.collect(pids)
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
}
