import SupervisorCore

/// One kind of work's share of a loop turn: at most `items`, and none
/// started once `seconds` have passed since the slice began; the first item
/// always runs, so the work always moves on. A count alone lets a slow
/// machine stretch a turn: in a debug build on a loaded 2-core host, 16
/// spawns and 64 reaps of a restart storm took up to 170 ms, and every
/// control client and signal waited that long.
struct TurnSlice {
    /// How long a slice goes on starting new items: whatever the machine's
    /// speed, a turn of a restart storm or a status of thousands stays
    /// around 10 ms, not a count of items whose cost a loaded host multiplies.
    static let standardSeconds = 0.005

    let items: Int
    let seconds: Double
    private let began: MonotonicInstant
    private let now: () -> MonotonicInstant
    private(set) var taken = 0

    init(items: Int, seconds: Double, now: @escaping () -> MonotonicInstant = MonotonicInstant.now) {
        precondition(items > 0, "a slice takes at least one item")
        self.items = items
        self.seconds = seconds
        self.now = now
        self.began = now()
    }

    /// True when one more item fits in the slice, and counts it.
    mutating func takeOne() -> Bool {
        if taken > 0, taken >= items || now().seconds(since: began) >= seconds { return false }
        taken += 1
        return true
    }
}
