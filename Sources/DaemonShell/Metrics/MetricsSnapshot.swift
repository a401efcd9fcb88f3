import Shared
import SupervisorCore

/// Everything one metrics exposition shows, as plain values: the groups as
/// the core has them when the snapshot ends, the processes' figures as
/// they were sampled over the snapshot's turns, and the counters the
/// shell's parts keep. The exposition is a pure function of it
/// (`MetricsSnapshot+Exposition`), unit-tested with snapshots made by hand.
struct MetricsSnapshot: Equatable {
    struct Group: Equatable {
        var name: String
        /// Its count: what it should run, also while stopped (a stopped
        /// group is short of it, as `appctl health` says).
        var desired: Int
        /// Live processes that are not stopping, ready or not.
        var running: Int
        var ready: Int
        /// Status rows by state (`ProcessStatus.State.rows(of:)`).
        var processes: [ProcessStatus.State: Int]
        /// The health rule of `appctl health` and `/healthz` (`WorkerGroup.healthProblem`).
        var healthy: Bool
        /// The group's counters (`ExitTally`, `ReloadTally`): they only go up.
        var restarts: Int
        var exitsByReason: [String: Int]
        var spawnFailures: Int
        var reloadsByOutcome: [String: Int]
        var lastReloadDuration: Double?
        /// Output lines its processes' output budgets dropped.
        var outputLinesDropped: Int
    }

    /// One live process with the figures read from /proc and its APPSTATS.
    struct Process: Equatable {
        var group: String
        var id: Int
        var pid: Int32
        var residentBytes: UInt64
        var cpuSeconds: Double
        var openFDs: Int
        /// TCP connections by lower-case state (`established`), listeners left out.
        var tcp: [String: Int]
        /// `AppStatsFigures.flatten` of its last APPSTATS.
        var appStats: [String: Double]
    }

    /// Counters the shell's parts keep, not the core.
    struct DaemonCounters: Equatable {
        var controlRequests: [ControlRequestTally.Key: Int] = [:]
        /// Lines the daemon's log sink dropped because its reader was not draining.
        var logLinesDropped = 0
        /// The same for each group log file, by path (several groups may
        /// share one): a disk that stalls drops lines there, told only by a
        /// marker line in the file itself otherwise.
        var logFileLinesDropped: [String: Int] = [:]
        /// Reloads refused before anything changed: a config with problems,
        /// or a new listen address that could not be bound.
        var reloadsRefused = 0
    }

    var version: String
    /// Unix time the daemon started.
    var startedAt: Double
    var groups: [Group]
    var processes: [Process]
    var counters: DaemonCounters
}

extension MetricsSnapshot.Group {
    /// The group as the core has it now. `outputLinesDropped` is the shell's.
    init(_ group: WorkerGroup, outputLinesDropped: Int) {
        var processes = Dictionary(uniqueKeysWithValues: ProcessStatus.State.allCases.map { ($0, 0) })
        for slot in group.slots {
            for state in ProcessStatus.State.rows(of: slot) { processes[state, default: 0] += 1 }
        }
        self.init(
            name: group.name, desired: group.config.count,
            running: group.liveProcesses.filter { !$0.isStopping }.count, ready: group.readyCount,
            processes: processes, healthy: group.healthProblem == nil,
            restarts: group.exits.restarts, exitsByReason: group.exits.exitsByReason,
            spawnFailures: group.exits.counts[.spawnFailed] ?? 0,
            reloadsByOutcome: ["completed": group.reloads.completed, "signalled": group.reloads.signalled,
                               "aborted": group.reloads.aborted],
            lastReloadDuration: group.lastReload?.duration, outputLinesDropped: outputLinesDropped)
    }
}

extension MetricsSnapshot.Process {
    init(group: String, id: Int, stats: WorkerStats, report: WorkerReport?) {
        self.init(
            group: group, id: id, pid: stats.pid, residentBytes: stats.rss, cpuSeconds: stats.cpuSeconds,
            openFDs: stats.openFDs, tcp: stats.connectionCounts,
            appStats: Dictionary(report?.appStats.map(AppStatsFigures.flatten) ?? [], uniquingKeysWith: { first, _ in first }))
    }
}
