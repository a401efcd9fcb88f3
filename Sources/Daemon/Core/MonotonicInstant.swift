/// A point on the monotonic clock, in nanoseconds since an arbitrary origin.
///
/// The supervisor core never reads a clock: the shell passes `now` with every
/// event, so tests drive the core with a fake clock and run in microseconds.
struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    var nanoseconds: UInt64

    init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    init(seconds: Double) { self.nanoseconds = UInt64(max(0, seconds) * 1e9) }

    var seconds: Double { Double(nanoseconds) / 1e9 }

    func adding(seconds: Double) -> MonotonicInstant {
        MonotonicInstant(nanoseconds: nanoseconds &+ UInt64(max(0, seconds) * 1e9))
    }

    /// Seconds from `earlier` to self; 0 when `earlier` is later.
    func seconds(since earlier: MonotonicInstant) -> Double {
        nanoseconds >= earlier.nanoseconds ? Double(nanoseconds - earlier.nanoseconds) / 1e9 : 0
    }

    static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    var description: String { String(format3(seconds)) + "s" }
}

private func format3(_ value: Double) -> String {
    let millis = Int((value * 1000).rounded())
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
