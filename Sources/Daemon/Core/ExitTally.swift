import Shared

/// Exits counted per status for one group: Workerman's `worker_exit_info`.
///
/// Every exit of a supervised process is counted, clean ones included, so the
/// tally always adds up to the number of exits seen; the status view decides
/// what to highlight.
struct ExitTally: Sendable, Equatable {
    private(set) var counts: [ExitStatus: Int] = [:]

    var total: Int { counts.values.reduce(0, +) }

    /// Exits other than `exited 0`.
    var failures: Int { counts.filter { !$0.key.isSuccess }.values.reduce(0, +) }

    mutating func record(_ status: ExitStatus) { counts[status, default: 0] += 1 }

    /// Sorted by status for stable output.
    var sorted: [(status: ExitStatus, count: Int)] {
        counts.sorted { $0.key < $1.key }.map { (status: $0.key, count: $0.value) }
    }
}
