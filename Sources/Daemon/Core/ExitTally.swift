import Shared

/// Exits counted per status for one group: Workerman's `worker_exit_info`.
///
/// Every exit of a supervised process is counted, clean ones included, so the
/// tally always adds up to the number of exits seen; status shows the
/// `failures` (non-zero codes and deaths by signal), as the spec asks.
struct ExitTally: Sendable, Equatable {
    private(set) var counts: [ExitStatus: Int] = [:]

    var total: Int { counts.values.reduce(0, +) }

    /// Exits other than `exited 0`, most frequent first (ties by status,
    /// for stable output).
    var failures: [(status: ExitStatus, count: Int)] {
        counts.filter { !$0.key.isSuccess }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { (status: $0.key, count: $0.value) }
    }

    mutating func record(_ status: ExitStatus) { counts[status, default: 0] += 1 }

    /// Sorted by status for stable output.
    var sorted: [(status: ExitStatus, count: Int)] {
        counts.sorted { $0.key < $1.key }.map { (status: $0.key, count: $0.value) }
    }
}
