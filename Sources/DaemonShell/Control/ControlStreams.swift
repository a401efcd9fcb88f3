import Shared
import SupervisorCore

/// Control requests that outlive the call that received them: they wait
/// for the supervisor's notices, a timer, or new output.
///
/// It is also the routing of those notices, as a pure value: a notice in,
/// the replies it means out (`Delivery`), for the shell to send. Nothing is
/// sent from inside, so a send that drops a client cannot change the streams
/// while they are being walked; and every ordering is unit-tested.
struct ControlStreams {
    /// One reply for one client.
    struct Delivery: Equatable {
        var client: Int32
        var reply: ControlReply
    }

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

    var reloads: [ReloadWaiter] = []
    var stops: [StopWaiter] = []
    var watchers: [Watcher] = []
    var logs: [LogStream] = []

    // MARK: - Routing

    /// A `reload` request that the core is about to apply; registered
    /// first, as a group with nothing to roll finishes during the call.
    mutating func reloadRequested(client: Int32, request: Int, group: String?) {
        reloads.append(ReloadWaiter(client: client, request: request, group: group))
    }

    /// The reload was refused: its stream goes, unanswered (the caller sends the error).
    mutating func reloadRefused(client: Int32, request: Int) {
        reloads.removeAll { $0.client == client && $0.request == request }
    }

    /// What a supervisor notice means to the streams waiting for one.
    /// `output` gives the last lines of a process whose failure aborted a reload.
    mutating func route(_ notice: SupervisorNotice, output: (Int32) -> [String]) -> [Delivery] {
        switch notice {
        case .reloadBegan(let groups):
            // Only the stream registered for the request being applied has
            // no target list yet.
            for index in reloads.indices where reloads[index].awaiting == nil {
                reloads[index].awaiting = Set(groups)
            }
            return []
        case .replaced(let worker, let oldPid, let newPid):
            let item = ControlItem.replaced(ProcessReplaced(group: worker.group, id: worker.id, oldPid: oldPid, newPid: newPid))
            return reloads.filter { $0.follows(worker.group) }.map { Delivery(client: $0.client, reply: .item(id: $0.request, item)) }
        case .reloadFinished(let group, let result):
            var reloaded = Self.groupReloaded(group, result)
            if let pid = result.failedPid {
                let lines = output(pid)
                reloaded.output = lines.isEmpty ? nil : lines
            }
            var deliveries: [Delivery] = []
            for index in reloads.indices where reloads[index].follows(group) {
                reloads[index].outcomes.append(reloaded)
                reloads[index].awaiting?.remove(group)
                deliveries.append(Delivery(client: reloads[index].client, reply: .item(id: reloads[index].request, .reloaded(reloaded))))
            }
            return deliveries + completeReloads()
        case .groupStopped(let group):
            let done = stops.filter { $0.group == group }
            stops.removeAll { $0.group == group }
            return done.map { Delivery(client: $0.client, reply: .done(id: $0.request, .stopped(group: group))) }
        }
    }

    /// Ends every reload stream whose groups have all reported: done, or
    /// `reload_aborted` naming each group that aborted.
    mutating func completeReloads() -> [Delivery] {
        let finished = reloads.filter { $0.awaiting?.isEmpty == true }
        reloads.removeAll { $0.awaiting?.isEmpty == true }
        return finished.map { waiter in
            let aborted = waiter.outcomes.filter { $0.outcome == .aborted }
            guard !aborted.isEmpty else {
                return Delivery(client: waiter.client, reply: .done(id: waiter.request, .reloaded(groups: waiter.outcomes.count)))
            }
            let reasons = aborted.map { "\($0.group): \($0.reason ?? "aborted")" }.joined(separator: "; ")
            return Delivery(client: waiter.client,
                            reply: .error(id: waiter.request, ProtocolError(.reloadAborted, "reload aborted: \(reasons)")))
        }
    }

    /// A `stop group` that another request overtook (the group was started,
    /// restarted or re-added before it went quiet) ends with an error rather
    /// than waiting forever. `isStopped` says whether a group still wants to be stopped.
    mutating func endOvertakenStops(isStopped: (String) -> Bool) -> [Delivery] {
        let overtaken = stops.filter { !isStopped($0.group) }
        guard !overtaken.isEmpty else { return [] }
        stops.removeAll { !isStopped($0.group) }
        return overtaken.map { waiter in
            let message = "the stop of group '\(waiter.group)' was overtaken: the group was started again before its last process exited"
            return Delivery(client: waiter.client, reply: .error(id: waiter.request, ProtocolError(.busy, message)))
        }
    }

    /// The protocol's account of one group's reload.
    static func groupReloaded(_ group: String, _ result: ReloadResult) -> GroupReloaded {
        var reloaded = GroupReloaded(group: group, outcome: .completed, replaced: result.replaced,
                                     started: result.started > 0 ? result.started : nil,
                                     notes: result.notes.isEmpty ? nil : result.notes)
        switch result.outcome {
        case .completed: break
        case .signalled(let processes):
            reloaded.outcome = .signalled
            reloaded.signalled = processes
        case .aborted(let reason):
            reloaded.outcome = .aborted
            reloaded.reason = reason
        }
        return reloaded
    }

    /// The watchers that get a snapshot now, by group: those due, and those
    /// of the same group and interval due within half an interval, which
    /// ride along so that watchers started at different moments fall into
    /// step and share one sampling. Each one served is due again an
    /// interval from now.
    mutating func takeDueWatchers(now: MonotonicInstant) -> [(group: String?, recipients: [StatusJob.Recipient])] {
        let due = watchers.filter { $0.next <= now }
        guard !due.isEmpty else { return [] }
        var served: [(group: String?, recipients: [StatusJob.Recipient])] = []
        for index in watchers.indices {
            let watcher = watchers[index]
            let riding = due.contains { $0.group == watcher.group && $0.interval == watcher.interval }
                && watcher.next <= now.adding(seconds: watcher.interval / 2)
            guard watcher.next <= now || riding else { continue }
            watchers[index].next = now.adding(seconds: watcher.interval)
            let recipient = StatusJob.Recipient(client: watcher.client, request: watcher.request, streaming: true)
            if let existing = served.firstIndex(where: { $0.group == watcher.group }) {
                served[existing].recipients.append(recipient)
            } else {
                served.append((watcher.group, [recipient]))
            }
        }
        return served
    }

    var nextWatchDeadline: MonotonicInstant? { watchers.map(\.next).min() }

    /// A client went away: its streams go with it.
    mutating func forget(client: Int32) {
        reloads.removeAll { $0.client == client }
        stops.removeAll { $0.client == client }
        watchers.removeAll { $0.client == client }
        logs.removeAll { $0.client == client }
    }

    func hasStreams(client: Int32) -> Bool {
        reloads.contains { $0.client == client } || stops.contains { $0.client == client }
            || watchers.contains { $0.client == client } || logs.contains { $0.client == client }
    }
}
