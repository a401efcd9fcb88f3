/// A duration from the command line. Kept as the operator wrote it for log
/// lines ("2s", "0.5s") and converted to monotonic nanoseconds for deadlines.
struct Seconds: Equatable, CustomStringConvertible {
    let value: Double

    init(_ value: Double) { self.value = value }

    var nanoseconds: Int64 { Int64((value * 1e9).rounded()) }

    var description: String {
        value == value.rounded() ? "\(Int64(value))s" : "\(value)s"
    }
}
