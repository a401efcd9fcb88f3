import Shared

/// When a line was logged, as Unix seconds and as the text every log
/// starts its lines with (`UTCTimestamp`). Made once per batch: every line
/// of one read of a worker's pipe was read at the same moment.
struct LogStamp {
    let seconds: Double
    /// `2026-12-01T12:28:17.514Z`
    let text: [UInt8]

    init(seconds: Double) {
        self.seconds = seconds
        var text: [UInt8] = []
        text.reserveCapacity(UTCTimestamp.length)
        UTCTimestamp.append(seconds, to: &text)
        self.text = text
    }

    static func now() -> LogStamp { LogStamp(seconds: WallClock.now().seconds) }
}
