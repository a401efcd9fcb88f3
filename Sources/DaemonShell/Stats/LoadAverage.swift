/// The host's 1, 5 and 15 minute load averages, from `/proc/loadavg`
/// ("0.52 0.58 0.59 1/234 5678"), for the master's summary line.
enum LoadAverage {
    static func parse(_ text: String) -> [Double]? {
        let fields = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard fields.count >= 3 else { return nil }
        let values = fields.prefix(3).compactMap { Double($0) }
        return values.count == 3 ? values : nil
    }

    /// nil when /proc is not mounted.
    static func current() -> [Double]? {
        var reader = ProcFileReader(capacity: 128)
        return reader.withContents(ofFile: "/proc/loadavg") { parse(String(decoding: $0, as: UTF8.self)) } ?? nil
    }
}
