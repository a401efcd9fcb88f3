import Shared
import SupervisorCore

/// The metrics exposition for `appctl metrics` and `GET /metrics`,
/// gathered the way status snapshots are: the processes' /proc figures a
/// slice of `processesPerTurn` per loop turn (`SlotWalk`), so a scrape of
/// five thousand workers never holds up signals, exits and clients for
/// more than a slice; then the groups and counters as they are at the end,
/// rendered once (`MetricsSnapshot+Exposition`).
///
/// One snapshot at a time: whoever asks while one is under way waits for
/// it and gets the same text, so ten scrapers at once cost one sampling
/// and one rendering, and the reply bytes are held once however many
/// connections send them.
///
/// It keeps its own `WorkerStatsCollector`, apart from `StatusService`'s:
/// a scrape every few seconds must not move the baselines `status` takes
/// its CPU % from. The two share one `ProcessSampler`, whose held /proc
/// files carry no baseline, so each process's files are open once.
final class MetricsService {
    /// Processes sampled per loop turn.
    static let processesPerTurn = 128

    /// Counters the other parts keep (set by the daemon).
    var counters: () -> MetricsSnapshot.DaemonCounters = { MetricsSnapshot.DaemonCounters() }
    /// Output lines dropped by group (`WorkerOutputs.droppedLines`; set by the daemon).
    var outputLinesDropped: () -> [String: Int] = { [:] }

    private let startedAt: Double
    private var statsCollector: WorkerStatsCollector
    private var job: Job?

    private struct Job {
        var walk: SlotWalk
        var processes: [MetricsSnapshot.Process] = []
        var waiters: [([UInt8]) -> Void] = []
    }

    /// `sampler`: shared with `StatusService` (its CPU baselines are not
    /// in it: those stay apart), so each process's /proc files are held
    /// open once.
    init(startedAt: Double, sampler: ProcessSampler = ProcessSampler()) {
        self.startedAt = startedAt
        statsCollector = WorkerStatsCollector(sampler: sampler)
    }

    var hasWork: Bool { job != nil }

    /// A reaped worker's CPU baseline and held /proc files are of no further use.
    func forget(pid: Int32) { statsCollector.forget(pid: pid) }

    /// Asks for the exposition; `deliver` gets its UTF-8 text once the
    /// snapshot under way (or a new one) is complete, on a later turn.
    func expose(supervisor: Supervisor, then deliver: @escaping ([UInt8]) -> Void) {
        if job == nil { job = Job(walk: SlotWalk(group: nil, supervisor: supervisor)) }
        job?.waiters.append(deliver)
    }

    /// The next slice of the snapshot; at its end, the text to every waiter.
    func continueWork(supervisor: Supervisor, reports: [Int32: WorkerReport]) {
        // Taken out while it grows, so its arrays are not copied each turn.
        guard var current = job else { return }
        job = nil
        let slots = current.walk.nextSlots(limit: Self.processesPerTurn, in: supervisor)
        let processes = slots.flatMap { entry in entry.slot.processes.map { (entry.group, entry.slot.id, $0.pid) } }
        let stats = statsCollector.collect(processes.map(\.2), in: &current.walk.round)
        for (group, id, pid) in processes {
            guard let figures = stats[pid] else { continue }
            current.processes.append(MetricsSnapshot.Process(group: group, id: id, stats: figures, report: reports[pid]))
        }
        guard current.walk.isFinished else {
            job = current
            return
        }
        job = nil
        let dropped = outputLinesDropped()
        let snapshot = MetricsSnapshot(
            version: AppdVersion.current, startedAt: startedAt,
            groups: supervisor.groups.map { MetricsSnapshot.Group($0, outputLinesDropped: dropped[$0.name] ?? 0) },
            processes: current.processes, counters: counters())
        let text = Array(snapshot.exposition.text.utf8)
        for deliver in current.waiters { deliver(text) }
    }
}
