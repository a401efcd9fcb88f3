/// `2026-12-01T12:28:17.514Z`: how every log of appd and `appctl logs`
/// write a moment, in UTC with milliseconds (RFC 3339), so a line reads
/// the same wherever it is shown, whatever the time zone of the reader.
///
/// Computed with integer arithmetic (days to a civil date, Howard Hinnant's
/// algorithm), without the C library or Foundation's formatters: the
/// master stamps a batch of lines with one of these.
public enum UTCTimestamp {
    /// The text is always this long.
    public static let length = 24

    public static func text(_ unixSeconds: Double) -> String {
        var bytes: [UInt8] = []
        append(unixSeconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the 24 bytes of `unixSeconds`, to the nearest millisecond
    /// (before 1970 reads as 1970).
    public static func append(_ unixSeconds: Double, to bytes: inout [UInt8]) {
        let millis = unixSeconds.isFinite && unixSeconds > 0 ? Int64((unixSeconds * 1000).rounded()) : 0
        let (days, millisOfDay) = (millis / 86_400_000, millis % 86_400_000)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let secondsOfDay = millisOfDay / 1000
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(day, 2)
        bytes.append(UInt8(ascii: "T"))
        digits(secondsOfDay / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondsOfDay / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(secondsOfDay % 60, 2)
        bytes.append(UInt8(ascii: "."))
        digits(millisOfDay % 1000, 3)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Year, month (1-12) and day (1-31) of a day counted from 1970-01-01.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468  // from 0000-03-01, so that a leap day ends a year
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
