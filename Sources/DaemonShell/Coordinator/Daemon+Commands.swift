import Shared
import SupervisorCore

/// Control commands, carried out with the same requests as the signals:
/// `appctl reload` and `kill -USR1` run the same code and log the same lines.
extension Daemon {
    func execute(_ request: ControlRequest, from client: Int32) {
        let id = request.id
        if supervisor.isStopping, !Self.allowedWhileStopping(request.command) {
            control.send(.error(id: id, .stopping), to: client)
            return
        }
        if let group = request.command.group, !Self.mayNameNewGroup(request.command),
           supervisor.group(named: group) == nil {
            control.send(.error(id: id, .unknownGroup(group, known: groupNames)), to: client)
            return
        }
        switch request.command {
        case .ping:
            control.send(.done(id: id, .pong), to: client)
        case .version:
            control.send(.done(id: id, .version), to: client)
        case .status(let group, let watch):
            // Streams are registered before the first reply: if that reply
            // drops the client, the stream is forgotten with it.
            if let watch {
                streams.watchers.append(.init(client: client, request: id, group: group, interval: watch,
                                              next: MonotonicInstant.now().adding(seconds: watch)))
            }
            status.startSnapshot(group: group, for: [.init(client: client, request: id, streaming: watch != nil)], supervisor: supervisor)
        case .connections(let group):
            let entries = status.connectionEntries(group: group, supervisor: supervisor)
            control.send(entries.map { .item(id: id, .connection($0)) } + [.done(id: id, .connections(entries.count))], to: client)
        case .reload(let group):
            startReload(group: group, request: id, from: client)
        case .restart(let group):
            apply(.restart(group: group), request: id, from: client) { _ in .restarting }
        case .stop(nil):
            control.send(.done(id: id, .daemonStopping), to: client)
            log.info("stop requested over the control socket")
            stopDaemon()
        case .stop(let group?):
            streams.stops.append(.init(client: client, request: id, group: group))
            apply(.stopGroup(group), request: id, from: client) { _ in nil }
        case .start(let group):
            apply(.startGroup(group), request: id, from: client) { _ in .started(group: group) }
        case .scale(let group, let count):
            apply(.scale(group: group, count: count), request: id, from: client) { _ in .scaled(group: group, count: count) }
        case .signal(let group, let signal):
            apply(.signal(group: group, signal), request: id, from: client) { effects in
                .signalled(processes: effects.filter { if case .signal = $0 { return true } else { return false } }.count)
            }
        case .logs(let filter, let follow, let lines):
            startLogs(filter, follow: follow, lines: lines, request: id, from: client)
        case .reopenLogs:
            reopenLogs(request: id, from: client)
        case .describe(let group):
            sendDescriptions(group: group, request: id, to: client)
        case .health:
            let health = supervisor.health
            control.send(.done(id: id, .health(healthy: health.isHealthy, summary: health.summary, problems: health.problems)), to: client)
        case .metrics:
            sendMetrics(request: id, to: client)
        }
    }

    /// Replies still owed while every process stops: `ping`, `version`,
    /// `status`, `logs` (and the other read-only ones) help an operator
    /// watch the stop.
    private static func allowedWhileStopping(_ command: ControlCommand) -> Bool {
        switch command {
        case .ping, .version, .status, .logs, .reopenLogs, .connections, .describe, .health, .metrics, .stop(nil): return true
        default: return false
        }
    }

    /// A reload may name a group the re-read config adds.
    private static func mayNameNewGroup(_ command: ControlCommand) -> Bool {
        if case .reload = command { return true }
        return false
    }

    /// Runs a request through the core. `result` makes the final reply from
    /// the effects, or returns nil when a stream answers later.
    private func apply(_ request: SupervisorRequest, request id: Int, from client: Int32,
                       result: ([SupervisorEffect]) -> ControlResult?) {
        do {
            let effects = try supervisor.apply(request, now: .now())
            let reply = result(effects)
            perform(effects)
            if let reply { control.send(.done(id: id, reply), to: client) }
        } catch {
            streams.stops.removeAll { $0.client == client && $0.request == id }
            control.send(.error(id: id, protocolError(error)), to: client)
        }
    }

    /// The groups a request may name, for "did you mean" (a reload may also
    /// name one its re-read config adds, which this cannot know).
    private var groupNames: [String] { supervisor.groups.filter { !$0.retiring }.map(\.name) }

    private func protocolError(_ rejection: RequestRejection) -> ProtocolError {
        switch rejection {
        case .unknownGroup(let name): return .unknownGroup(name, known: groupNames)
        case .reloadInProgress: return ProtocolError(.busy, rejection.description)
        case .daemonStopping: return .stopping
        case .invalidCount: return ProtocolError(.invalidArgument, rejection.description)
        case .alreadyRunning: return ProtocolError(.alreadyRunning, rejection.description)
        case .alreadyStopped, .noProcesses: return ProtocolError(.notRunning, rejection.description)
        case .alreadyAtCount: return ProtocolError(.alreadyAtCount, rejection.description)
        }
    }

    // MARK: - Reload and stop streams

    private func startReload(group: String?, request id: Int, from client: Int32) {
        streams.reloadRequested(client: client, request: id, group: group)
        switch reload(group: group) {
        case .success:
            // The core named the groups it reports on (`reloadBegan`); those
            // that finished at once are in already.
            send(streams.completeReloads())
        case .failure(let refusal):
            streams.reloadRefused(client: client, request: id)
            let error: ProtocolError
            switch refusal {
            case .rejected(let rejection): error = protocolError(rejection)
            case .invalidConfig, .cannotBind, .cannotOpenLog: error = ProtocolError(.reloadAborted, refusal.description)
            }
            log.error("reload refused: \(refusal)")
            control.send(.error(id: id, error), to: client)
        }
    }

    /// How much of a failed successor's output an aborted reload reports.
    static let failedOutputLines = 10

    /// Routes the core's milestones to the clients waiting for them.
    func deliver(_ notice: SupervisorNotice) {
        send(streams.route(notice) { pid in
            workers.logs.recentOutput(ofProcess: pid, limit: Self.failedOutputLines)
        })
    }

    /// See `ControlStreams.endOvertakenStops`.
    func endOvertakenStops() {
        send(streams.endOvertakenStops { supervisor.group(named: $0)?.wantsRunning == false })
    }

    /// Sends each routed reply; a client one of them drops misses the rest.
    private func send(_ deliveries: [ControlStreams.Delivery]) {
        for delivery in deliveries { control.send(delivery.reply, to: delivery.client) }
    }
}
