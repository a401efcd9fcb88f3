import Shared
import SupervisorCore

/// What a worker said about itself on its notify socket, kept by pid for
/// status: its STATUS= text and its APPSTATS= counters.
struct WorkerReport: Equatable {
    var statusText: String?
    var appStats: JSONValue?

    mutating func merge(_ message: NotifyMessage) {
        if let status = message.status { statusText = status }
        if let stats = message.appStats { appStats = stats }
    }
}
