import Shared

/// Why an exit counts against a group: Workerman's `worker_exit_info`,
/// made honest. Exits appd asked for (stop, reload, scale-down, restart) are
/// not failures even when the program dies by the signal it was sent
/// (uvicorn and `python -m http.server` do); what appd had to do because the
/// program misbehaved is, each under its own reason.
public enum FailureKind: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// It exited or died on its own with this status (not `exited 0`).
    case status(ExitStatus)
    /// appd stopped it because it was not ready within its readiness deadline.
    case notReady
    /// appd killed it because it stopped sending WATCHDOG=1.
    case watchdog
    /// appd restarted it because its memory stayed above `maxMemory`.
    case memoryLimit
    /// It could not be started at all (exec failed, command not found).
    case spawnFailed

    /// A stable key for tallies and JSON: "exit:3", "signal:KILL",
    /// "not-ready", "watchdog", "memory-limit", "spawn-failed".
    public var key: String {
        switch self {
        case .status(let status): return status.key
        case .notReady: return "not-ready"
        case .watchdog: return "watchdog"
        case .memoryLimit: return "memory-limit"
        case .spawnFailed: return "spawn-failed"
        }
    }

    public var description: String {
        switch self {
        case .status(let status): return status.description
        case .notReady: return "stopped: not ready in time"
        case .watchdog: return "killed by the watchdog"
        case .memoryLimit: return "restarted: memory above maxMemory"
        case .spawnFailed: return "failed to start"
        }
    }

    public static func < (lhs: FailureKind, rhs: FailureKind) -> Bool { lhs.key < rhs.key }
}

/// Every exit of a group's processes, its failures by reason, and its
/// restarts: the group's history in counts, for status and for metrics.
///
/// It belongs to the group, not to its slots, and only ever counts up: a
/// scale-down drops slots (and their `restarts`) and a reload replaces
/// every process, but neither touches the group's tally, so the metrics
/// built from it are true Prometheus counters. Only a group removed from
/// the config and added again starts from zero (a new group).
public struct ExitTally: Sendable, Equatable {
    /// Process exits seen, asked for or not: adds up to the exits reaped.
    public private(set) var exits = 0
    public private(set) var counts: [FailureKind: Int] = [:]
    /// Every exit by how it came about (`reason(of:stopReason:)`).
    public private(set) var exitsByReason: [String: Int] = [:]
    /// Processes started again after an exit appd did not ask for, or after
    /// a failed start: what the slots' `restarts` add up to, kept here too
    /// because a scale-down takes slots away.
    public private(set) var restarts = 0

    /// Failures, most frequent first (ties by key, for stable output).
    public var failures: [(kind: FailureKind, count: Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { (kind: $0.key, count: $0.value) }
    }

    /// How an exit came about, as one stable word: the failure's key when
    /// appd had to stop it (`not-ready`, `watchdog`), `requested:<why>`
    /// when appd asked for it (`requested:reload`, `requested:stop`,
    /// `requested:scale`, `requested:restart`, `requested:reloadAborted`),
    /// else its status (`exit:0`, `exit:3`, `signal:SEGV`).
    public static func reason(of status: ExitStatus, stopReason: StopReason?) -> String {
        guard let stopReason else { return status.key }
        return stopReason.failure?.key ?? "requested:\(stopReason.key)"
    }

    mutating func recordExit(failure: FailureKind?, reason: String) {
        exits += 1
        exitsByReason[reason, default: 0] += 1
        if let failure { counts[failure, default: 0] += 1 }
    }

    mutating func recordSpawnFailure() { counts[.spawnFailed, default: 0] += 1 }

    mutating func recordRestart() { restarts += 1 }
}
