import Foundation

extension EndToEnd {
    /// One line of the daemon's log:
    /// `2026-11-27T12:14:05.123Z appd[4700] info: message` for the master's own
    /// lines, `2026-11-27T12:14:05.123Z web#0[4711] stdout: text` for a child's.
    /// Continuation lines of a multi-line message are not parsed (search the raw
    /// text for those).
    struct LogLine: Sendable, CustomStringConvertible {
        /// Seconds since the epoch, from the millisecond UTC timestamp.
        var time: Double
        var source: String
        var level: String
        var message: String
        /// Position in the file, for ordering assertions.
        var index: Int

        var description: String { "#\(index) \(source) \(level): \(message)" }

        static func parse(_ text: String) -> [LogLine] {
            var result: [LogLine] = []
            for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let line = String(raw)
                let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
                guard fields.count == 3, let time = timestamp(String(fields[0])),
                      let colon = fields[2].range(of: ": ") else { continue }
                let level = String(fields[2][..<colon.lowerBound])
                guard !level.contains(" ") else { continue }
                result.append(LogLine(
                    time: time, source: String(fields[1]), level: level,
                    message: String(fields[2][colon.upperBound...]), index: result.count))
            }
            return result
        }

        /// `YYYY-MM-DDTHH:MM:SS.mmmZ` → seconds since the epoch.
        static func timestamp(_ text: String) -> Double? {
            let bytes = Array(text.utf8)
            guard bytes.count == 24, bytes[10] == UInt8(ascii: "T"), bytes[23] == UInt8(ascii: "Z") else { return nil }
            func number(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
            guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
                  let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
                  let millisecond = number(20..<23) else { return nil }
            var components = DateComponents()
            (components.year, components.month, components.day) = (year, month, day)
            (components.hour, components.minute, components.second) = (hour, minute, second)
            components.timeZone = TimeZone(identifier: "UTC")
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            guard let date = calendar.date(from: components) else { return nil }
            return date.timeIntervalSince1970 + Double(millisecond) / 1000
        }
    }
}

extension Array where Element == EndToEnd.LogLine {
    /// The master's own lines (not children's output).
    var master: [EndToEnd.LogLine] { filter { $0.source.hasPrefix("appd[") } }

    func containing(_ text: String) -> [EndToEnd.LogLine] { filter { $0.message.contains(text) } }

    func first(containing text: String) -> EndToEnd.LogLine? { first { $0.message.contains(text) } }
}
