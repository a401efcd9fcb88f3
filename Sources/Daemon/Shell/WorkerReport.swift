import Shared

/// What a worker said about itself on the notify socket, kept by pid for
/// status: its STATUS= text, its APPSTATS= counters, whether it is stopping.
struct WorkerReport: Equatable {
    var statusText: String?
    var appStats: JSONValue?
    var stopping = false
    var lastWatchdog: MonotonicInstant?

    mutating func merge(_ message: NotifyMessage, now: MonotonicInstant) {
        if let status = message.status { statusText = status }
        if let stats = message.appStats { appStats = stats }
        if message.stopping { stopping = true }
        if message.watchdog { lastWatchdog = now }
    }
}
