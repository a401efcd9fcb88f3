import Shared
import SupervisorCore

/// One sd_notify datagram from a worker: newline-separated `KEY=VALUE`
/// assignments (systemd's format), of which appd reads READY, STATUS,
/// APPSTATS, WATCHDOG and STOPPING. The others (MAINPID, RELOADING...) are
/// accepted and ignored.
struct NotifyMessage: Equatable {
    var ready = false
    /// WATCHDOG=1: the worker says it is alive.
    var watchdog = false
    /// STOPPING=1: the worker says it has begun to shut down.
    var stopping = false
    var status: String?
    /// The worker's own counters: APPSTATS= parsed, always a JSON object.
    var appStats: JSONValue?

    /// Lines that could not be used; the good lines of the same datagram
    /// still count (systemd reads a datagram the same way).
    var problems: [Problem] = []

    enum Problem: Equatable, CustomStringConvertible {
        case notUTF8
        case noAssignment(String)
        case appStatsNotAnObject

        var description: String {
            switch self {
            case .notUTF8: return "not UTF-8"
            case .noAssignment(let line): return "'\(line.prefix(40))' is not KEY=VALUE"
            case .appStatsNotAnObject: return "APPSTATS= must be a JSON object"
            }
        }
    }

    init(datagram: [UInt8]) {
        guard let text = String(validating: datagram, as: UTF8.self) else {
            problems = [.notUTF8]
            return
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let equals = line.firstIndex(of: "=") else {
                problems.append(.noAssignment(String(line)))
                continue
            }
            let key = line[..<equals]
            let value = String(line[line.index(after: equals)...])
            switch key {
            case "READY": ready = value == "1"
            case "WATCHDOG": watchdog = value == "1"
            case "STOPPING": stopping = value == "1"
            case "STATUS": status = value
            case "APPSTATS":
                if let stats = try? JSONValue(parsing: Array(value.utf8)), stats.objectValue != nil {
                    appStats = stats
                } else {
                    problems.append(.appStatsNotAnObject)
                }
            default: continue
            }
        }
    }
}
