/// Units people read: `3m12s`, `1.5s`, `12.4 MiB`. Used by the daemon's log
/// and status file and by `appctl`'s tables; JSON output keeps raw numbers.
public enum HumanFormat {
    /// `0.25s`, `2s`, `3m12s`, `5h02m`, `3d04h`.
    public static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 10 {
            let tenths = (seconds * 100).rounded() / 100
            if tenths == tenths.rounded() { return "\(Int(tenths))s" }
            var text = String(tenths)
            while text.hasSuffix("0") { text.removeLast() }
            return text + "s"
        }
        let total = Int(seconds)
        let (days, hours, minutes, secs) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
        if days > 0 { return "\(days)d" + twoDigits(hours) + "h" }
        if hours > 0 { return "\(hours)h" + twoDigits(minutes) + "m" }
        if minutes > 0 { return "\(minutes)m" + twoDigits(secs) + "s" }
        return "\(secs)s"
    }

    /// For tables: whole units, rounded down, at most two of them: `<1s`,
    /// `3s`, `1m30s`, `2m`, `2h5m`, `3d4h`. A column of these reads at a
    /// glance; the exact figure is in `--json` (and `duration` keeps a
    /// tenth of a second for the log, where `restarts in 0.1s` matters).
    public static func roundedDuration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 1 { return "<1s" }
        let total = seconds >= Double(Int.max) ? Int.max : Int(seconds)
        func pair(_ major: Int, _ majorUnit: String, _ minor: Int, _ minorUnit: String) -> String {
            "\(major)\(majorUnit)" + (minor > 0 ? "\(minor)\(minorUnit)" : "")
        }
        if total < 60 { return "\(total)s" }
        if total < 3600 { return pair(total / 60, "m", total % 60, "s") }
        if total < 86400 { return pair(total / 3600, "h", total / 60 % 60, "m") }
        return pair(total / 86400, "d", total / 3600 % 24, "h")
    }

    /// `512 B`, `3.2 KiB`, `12.4 MiB`, `1.1 GiB`.
    public static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        return oneDecimal(value) + " " + units[unit]
    }

    /// `0.0`, `12.5`, `100.0`.
    public static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
