import Shared
import SupervisorCore

/// Control requests that outlive the call that received them: they wait
/// for the supervisor's notices, a timer, or new output.
struct ControlStreams {
    /// A `reload` waiting for each targeted group's outcome.
    struct ReloadWaiter {
        var client: Int32
        var request: Int
        /// nil: every group. Which groups it waits for is known once the
        /// reload was applied (a config may add or remove groups).
        var group: String?
        var awaiting: Set<String>?
        var outcomes: [GroupReloaded] = []

        /// Whether a notice about `group` belongs to this stream: while its
        /// reload is being applied, any group it names (or every group);
        /// afterwards only the groups it still awaits, so another request's
        /// later reload of a finished group is not reported here.
        func follows(_ group: String) -> Bool {
            awaiting.map { $0.contains(group) } ?? (self.group == nil || self.group == group)
        }
    }

    /// A `stop group` waiting until the group's last process has exited.
    struct StopWaiter {
        var client: Int32
        var request: Int
        var group: String
    }

    /// `status` with `watch`: a fresh snapshot every interval.
    struct Watcher {
        var client: Int32
        var request: Int
        var group: String?
        var interval: Double
        var next: MonotonicInstant
    }

    /// `logs` with `follow`: new output lines as they come.
    struct LogFollower {
        var client: Int32
        var request: Int
        var group: String?
    }

    var reloads: [ReloadWaiter] = []
    var stops: [StopWaiter] = []
    var watchers: [Watcher] = []
    var logFollowers: [LogFollower] = []

    /// A client went away: its streams go with it.
    mutating func forget(client: Int32) {
        reloads.removeAll { $0.client == client }
        stops.removeAll { $0.client == client }
        watchers.removeAll { $0.client == client }
        logFollowers.removeAll { $0.client == client }
    }

    func hasStreams(client: Int32) -> Bool {
        reloads.contains { $0.client == client } || stops.contains { $0.client == client }
            || watchers.contains { $0.client == client } || logFollowers.contains { $0.client == client }
    }
}
