import Glibc
import Shared

/// `appctl logs` for people: `2025-06-01 12:00:01.123 web#0[4711] stdout: listening`,
/// the journald shape (`unit[pid]:`) with the worker id and the stream.
/// What the worker wrote is escaped (`TerminalText`): `\x1b]0;pwned\x07`
/// is shown, not obeyed.
enum LogLineText {
    static func line(_ entry: LogEntry) -> String {
        let entry = entry.escapedForTerminal()
        return "\(localTimestamp(entry.time)) \(entry.group)#\(entry.id)[\(entry.pid)] \(entry.stream.rawValue): \(entry.line)"
    }

    /// `2025-06-01 12:00:01.123` in the local time zone, without Foundation's
    /// date formatters (their set-up would dominate a short `logs` call).
    static func localTimestamp(_ unixSeconds: Double) -> String {
        var seconds = time_t(unixSeconds.rounded(.down))
        let millis = Int((unixSeconds - Double(seconds)) * 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday)) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(millis, width: 3))"
    }

    private static func pad(_ value: some BinaryInteger, width: Int = 2) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
