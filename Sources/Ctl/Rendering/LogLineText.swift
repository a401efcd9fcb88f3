import Shared

/// `appctl logs` for people: `2026-12-01T12:28:17.514Z web#0[4711] stdout: listening`,
/// the journald shape (`unit[pid]:`) with the worker id and the stream,
/// the time in UTC as every log of appd writes it (`UTCTimestamp`), so a
/// line here and the same line in a log file read the same. What the
/// worker wrote is escaped (`TerminalText`): `\x1b]0;pwned\x07` is shown,
/// not obeyed.
enum LogLineText {
    static func line(_ entry: LogEntry) -> String {
        let entry = entry.escapedForTerminal()
        return "\(UTCTimestamp.text(entry.time)) \(entry.worker) \(entry.stream.rawValue): \(entry.line)"
    }
}
