/// A point on the monotonic clock, in nanoseconds since an arbitrary origin.
///
/// The supervisor core never reads a clock: the shell passes `now` with every
/// event, so tests drive the core with a fake clock and run in microseconds.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public internal(set) var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public init(seconds: Double) { self.nanoseconds = Self.nanoseconds(seconds) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// Saturates at the end of time: a huge timeout means "never", not a trap.
    public func adding(seconds: Double) -> MonotonicInstant {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(Self.nanoseconds(seconds))
        return MonotonicInstant(nanoseconds: overflow ? .max : sum)
    }

    /// Negative and NaN count as 0, anything beyond UInt64 as its maximum.
    private static func nanoseconds(_ seconds: Double) -> UInt64 {
        let value = seconds * 1e9
        guard value > 0 else { return 0 }
        return value < 18_446_744_073_709_549_568 ? UInt64(value) : .max
    }

    /// Seconds from `earlier` to self; 0 when `earlier` is later.
    public func seconds(since earlier: MonotonicInstant) -> Double {
        nanoseconds >= earlier.nanoseconds ? Double(nanoseconds - earlier.nanoseconds) / 1e9 : 0
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public var description: String { String(format3(seconds)) + "s" }
}

private func format3(_ value: Double) -> String {
    let millis = Int((value * 1000).rounded())
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
