import SupervisorCore
/// How much of one worker's output reaches the log: a token bucket of
/// `bytesPerSecond`, holding up to one second's worth.
///
/// A worker writing `/dev/zero` grew the log by 232 MB/s; a log that size
/// buries every other worker and fills the disk. Lines beyond the budget are
/// dropped and counted, and the count is said in one marker line when the
/// worker is back under its budget (or exits), as journald's rate limit does.
struct OutputBudget {
    /// Whose output it is, for the marker line.
    let worker: WorkerRef
    let pid: Int32
    let bytesPerSecond: Double
    private var tokens: Double
    private var refilledAt: MonotonicInstant
    /// Lines dropped since the last marker.
    private(set) var dropped = 0

    init(worker: WorkerRef, pid: Int32, bytesPerSecond: Int, now: MonotonicInstant) {
        self.worker = worker
        self.pid = pid
        self.bytesPerSecond = Double(bytesPerSecond)
        self.tokens = Double(bytesPerSecond)
        self.refilledAt = now
    }

    enum Verdict: Equatable {
        case keep
        /// Keep it, after a marker saying how many lines were dropped before it.
        case keepAfterDropping(Int)
        case drop
    }

    /// What a line costs at least: logging a two-byte line costs the master
    /// about what a 256-byte one does (a timestamp, a label, a queue slot),
    /// so a flood of `y` lines is held to 16 K lines a second at 4 MiB/s.
    static let minimumLineCost = 256

    mutating func admit(bytes: Int, now: MonotonicInstant) -> Verdict {
        tokens = min(bytesPerSecond, tokens + now.seconds(since: refilledAt) * bytesPerSecond)
        refilledAt = now
        let cost = Double(max(bytes, Self.minimumLineCost))
        guard tokens >= cost else {
            dropped += 1
            return .drop
        }
        tokens -= cost
        defer { dropped = 0 }
        return dropped > 0 ? .keepAfterDropping(dropped) : .keep
    }

    /// Whether not even the cheapest line fits until the bucket refills:
    /// after a `.drop` at the same `now`, the rest of a read can be dropped
    /// at once (`drop`) instead of line by line. A flood of `y` lines is
    /// 32 K lines a read, nearly all dropped, and weighing each kept the
    /// loop busy for 3 ms a read, which every respawn waited out.
    var isExhausted: Bool { tokens < Double(Self.minimumLineCost) }

    /// Lines dropped without being weighed, while `isExhausted`.
    mutating func drop(_ count: Int) { dropped += count }

    /// At exit: the lines dropped that no marker has told of yet.
    mutating func takeDropped() -> Int {
        defer { dropped = 0 }
        return dropped
    }
}
