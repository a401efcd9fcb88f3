import Glibc
import Shared

/// Carries out one `CtlCommand`: connects, sends the request, reads the
/// replies as they stream and prints them (tables or JSON), and says how
/// `appctl` should exit. Text for people has everything that came over the
/// socket escaped (`TerminalText`); `--json` prints it exactly.
struct CommandRunner {
    let console: Console
    /// Unix time, for "12s ago" and the watch title.
    var wallClock: () -> Double = { CommandRunner.clock(CLOCK_REALTIME) }

    /// `appctl` sends a single request per connection, so one id suffices.
    static let requestID = 1

    func run(_ command: CtlCommand, socketPath: String) -> ExitCode {
        let started = Self.clock(CLOCK_MONOTONIC)
        do {
            let connection = try ControlConnection(path: socketPath, timeout: command.timeout ?? ControlConnection.defaultTimeout)
            connection.patience = Self.patience(for: command.request)
            try connection.send(ControlRequest(id: Self.requestID, command: command.request))
            let json = command.json
            switch command.request {
            case .status(_, let watch):
                return try status(connection, json: json, watch: watch, layout: command.wide ? .wide : .standard)
            case .connections:
                return try connections(connection, json: json)
            case .reload:
                return try reload(connection, json: json)
            case .logs:
                return try logs(connection, json: json)
            case .describe:
                return try describe(connection, json: json)
            case .metrics:
                return try metrics(connection, json: json)
            case .ping, .version, .restart, .stop, .start, .scale, .signal, .health, .reopenLogs:
                let result: ControlResult
                switch try connection.outcome(of: Self.requestID, onItem: { _ in }) {
                case .success(let value): result = value
                case .failure(let error): return report(error, json: json, socketPath: socketPath)
                }
                let elapsed = Self.clock(CLOCK_MONOTONIC) - started
                console.out.write(json
                    ? JSONDocuments.line(result)
                    : ResultText.line(for: command.request, result, socketPath: socketPath, elapsed: elapsed) + "\n")
                // An unhealthy daemon answered fine, but the probe fails.
                return result.healthy == false ? .commandFailed : .success
            }
        } catch {
            console.err.write("appctl: \(TerminalText.escaped(error.description))\n")
            return .unreachable
        }
    }

    /// Streams that may rightly be quiet for long are kept alive with pings;
    /// everything else must be answered within the timeout.
    static func patience(for request: ControlCommand) -> ControlConnection.Patience {
        switch request {
        case .status(_, let watch?) where watch > 0: .keepAlive
        case .logs(_, true, _), .reload, .stop(_?): .keepAlive
        default: .total
        }
    }

    /// Prints each snapshot when it is complete: at the done line, or with
    /// `watch` (which never ends) at each `snapshotEnd` item, or when the
    /// next snapshot's master item shows the previous one is over.
    private func status(
        _ connection: ControlConnection, json: Bool, watch: Double?, layout: StatusTable.Layout
    ) throws(TransportError) -> ExitCode {
        let screen = watch.map { _ in WatchScreen(sink: console.out, redrawsInPlace: !json && console.outIsTerminal) }
        screen?.begin()
        defer { screen?.end() }
        var snapshot = StatusReport()
        var document = JSONDocuments.StatusDocument()
        func show() {
            if json {
                console.out.write(document.line(snapshot))
            } else if let screen, let watch {
                let title = "Every \(HumanFormat.duration(seconds: watch)): appctl status    "
                    + UTCTimestamp.text(wallClock()).prefix(19) + "Z"
                screen.draw(title + "\n\n" + StatusTable.render(snapshot.escapedForTerminal(), now: wallClock(), layout: layout))
            } else {
                console.out.write(StatusTable.render(snapshot.escapedForTerminal(), now: wallClock(), layout: layout))
            }
            snapshot = StatusReport()
            document = JSONDocuments.StatusDocument()
            connection.released()
        }
        // With --json a process item in appd's own shape is copied as it
        // came, not read and written again (`ProcessStatus.verbatimObject`).
        let outcome = try connection.outcome(of: Self.requestID, takingLines: { json && document.takeProcessLine($0, id: Self.requestID) }) { item in
            switch item {
            case .master(let master):
                if watch != nil, snapshot.master != nil { show() }
                snapshot.master = master
                if json { document.setMaster(master) }
            case .process(let process):
                snapshot.processes.append(process)
                if json { document.append(process) }
            case .snapshotEnd:
                show()
            default:
                break
            }
        }
        switch outcome {
        case .success:
            if snapshot != StatusReport() || !document.isEmpty { show() }
            return .success
        case .failure(let error):
            return report(error, json: json, socketPath: connection.path)
        }
    }

    private func connections(_ connection: ControlConnection, json: Bool) throws(TransportError) -> ExitCode {
        var entries: [ConnectionEntry] = []
        let outcome = try connection.outcome(of: Self.requestID) { item in
            if case .connection(let entry) = item { entries.append(entry) }
        }
        if case .failure(let error) = outcome { return report(error, json: json, socketPath: connection.path) }
        console.out.write(json
            ? JSONDocuments.line(JSONDocuments.Connections(connections: entries))
            : ConnectionTable.render(entries.map { $0.escapedForTerminal() }))
        return .success
    }

    /// Prints progress as it streams: a rolling reload can take minutes.
    private func reload(_ connection: ControlConnection, json: Bool) throws(TransportError) -> ExitCode {
        // Only --json keeps the items (a document printed at the end); text is printed as it comes.
        var document = JSONDocuments.Reload()
        var groupsReloaded = 0
        let outcome = try connection.outcome(of: Self.requestID) { item in
            switch item {
            case .replaced(let replaced):
                if json {
                    document.replaced.append(replaced)
                } else {
                    console.out.write(ReloadProgressText.line(replaced) + "\n")
                    connection.released()
                }
            case .reloaded(let reloaded):
                groupsReloaded += 1
                if json {
                    document.reloaded.append(reloaded)
                } else {
                    console.out.write(ReloadProgressText.line(reloaded) + "\n")
                    connection.released()
                }
            default:
                break
            }
        }
        switch outcome {
        case .success(let result):
            console.out.write(json
                ? JSONDocuments.line(document)
                : "reload finished: \(counted(result.groups ?? groupsReloaded, "group", "groups"))\n")
            return .success
        case .failure(let error):
            if json {
                document.error = error
                console.out.write(JSONDocuments.line(document))
            }
            return report(error, json: false, socketPath: connection.path)
        }
    }

    private func logs(_ connection: ControlConnection, json: Bool) throws(TransportError) -> ExitCode {
        let outcome = try connection.outcome(of: Self.requestID) { item in
            guard case .log(let entry) = item else { return }
            console.out.write(json ? JSONDocuments.line(entry) : LogLineText.line(entry) + "\n")
            connection.released()
        }
        if case .failure(let error) = outcome { return report(error, json: json, socketPath: connection.path) }
        return .success
    }

    private func describe(_ connection: ControlConnection, json: Bool) throws(TransportError) -> ExitCode {
        var groups: [GroupDescription] = []
        let outcome = try connection.outcome(of: Self.requestID) { item in
            if case .groupDescription(let description) = item { groups.append(description) }
        }
        if case .failure(let error) = outcome { return report(error, json: json, socketPath: connection.path) }
        console.out.write(json
            ? JSONDocuments.line(JSONDocuments.Describe(groups: groups))
            : groups.map { DescribeText.render($0, now: wallClock()) }.joined(separator: "\n"))
        return .success
    }

    /// The exposition exactly as appd wrote it, printed piece by piece as
    /// it comes (it is for programs: `promtool check metrics`, grep); with
    /// `--json`, in one document at the end.
    private func metrics(_ connection: ControlConnection, json: Bool) throws(TransportError) -> ExitCode {
        var document = JSONDocuments.Metrics(metrics: "")
        let outcome = try connection.outcome(of: Self.requestID) { item in
            guard case .metrics(let piece) = item else { return }
            if json {
                document.metrics += piece.text
            } else {
                console.out.write(piece.text)
                connection.released()
            }
        }
        if case .failure(let error) = outcome { return report(error, json: json, socketPath: connection.path) }
        if json { console.out.write(JSONDocuments.line(document)) }
        return .success
    }

    /// An error reply: the message on stderr (and a JSON document on stdout
    /// with `--json`). A `forbidden` peer counts as not reaching the daemon.
    private func report(_ error: ProtocolError, json: Bool, socketPath: String) -> ExitCode {
        if json { console.out.write(JSONDocuments.line(JSONDocuments.Failure(error: error))) }
        let shown = error.escapedForTerminal()
        if error.code == .forbidden {
            console.err.write("appctl: cannot reach appd at \(socketPath): \(shown.message)\n")
            return .unreachable
        }
        console.err.write("appctl: \(shown.message) (\(shown.code))\n")
        return .commandFailed
    }

    static func clock(_ id: clockid_t) -> Double {
        var now = timespec()
        clock_gettime(id, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
