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

/// Every exit of a group's processes, and its failures by reason.
public struct ExitTally: Sendable, Equatable {
    /// Process exits seen, asked for or not: adds up to the exits reaped.
    public private(set) var exits = 0
    public private(set) var counts: [FailureKind: Int] = [:]

    /// Failures, most frequent first (ties by key, for stable output).
    public var failures: [(kind: FailureKind, count: Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { (kind: $0.key, count: $0.value) }
    }

    mutating func recordExit(failure: FailureKind?) {
        exits += 1
        if let failure { counts[failure, default: 0] += 1 }
    }

    mutating func recordSpawnFailure() { counts[.spawnFailed, default: 0] += 1 }
}
