import Foundation
import Testing

extension EndToEnd {
    /// The real `appctl --json` for the statistics tests, its documents parsed
    /// with JSONSerialization into small read-only views. Kept to itself
    /// (`Stats*` names only) so it never collides with other helpers.
    enum StatsCtl {
        /// `appctl --socket <daemon's socket> ARGS...`, run to completion with
        /// the daemon's environment (and so its teardown tag).
        static func run(
            _ daemon: DaemonUnderTest, _ arguments: [String], timeout: Double = 10,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> CommandResult {
            try await CommandRunner.run(Binaries.appctl, ["--socket", daemon.controlSocket] + arguments,
                                        environment: daemon.environment, in: daemon.directory,
                                        timeout: timeout, sourceLocation: sourceLocation)
        }

        /// `appctl ARGS --json`: exit 0 and exactly one JSON object on stdout.
        static func document(
            _ daemon: DaemonUnderTest, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> [String: Any] {
            let result = try await run(daemon, arguments + ["--json"], sourceLocation: sourceLocation)
            guard result.exited(0) else {
                throw StatsFailure("appctl \(arguments.joined(separator: " ")) --json failed: \(result)")
            }
            let lines = result.stdout.split(separator: "\n")
            guard lines.count == 1, let object = StatsJSON.object(String(lines[0])) else {
                throw StatsFailure("appctl \(arguments.joined(separator: " ")) --json did not print one JSON object: \(result)")
            }
            return object
        }

        /// `appctl status --json`.
        static func status(
            _ daemon: DaemonUnderTest, group: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> StatsSnapshot {
            let arguments = ["status"] + (group.map { ["--group", $0] } ?? [])
            let object = try await document(daemon, arguments, sourceLocation: sourceLocation)
            guard let snapshot = StatsSnapshot(object) else {
                throw StatsFailure("not a status document: \(object)")
            }
            return snapshot
        }

        /// `appctl connections --json`.
        static func connections(
            _ daemon: DaemonUnderTest, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> [StatsConnection] {
            let object = try await document(daemon, ["connections"], sourceLocation: sourceLocation)
            guard let list = object["connections"] as? [Any] else {
                throw StatsFailure("no connections array in \(object)")
            }
            return try list.map { item in
                guard let entry = (item as? [String: Any]).flatMap(StatsConnection.init) else {
                    throw StatsFailure("not a connection entry: \(item)")
                }
                return entry
            }
        }
    }

    /// A failed expectation about output, with the output in its message.
    struct StatsFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// JSONSerialization's values, read leniently (numbers arrive as NSNumber).
    enum StatsJSON {
        static func object(_ text: String) -> [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        }

        static func double(_ value: Any?) -> Double? {
            (value as? NSNumber)?.doubleValue
        }

        static func int(_ value: Any?) -> Int? {
            guard let double = double(value), double == double.rounded(), abs(double) < 1e15 else { return nil }
            return Int(double)
        }

        static func text(_ value: Any?) -> String {
            guard let value, !(value is NSNull) else { return "null" }
            if JSONSerialization.isValidJSONObject(value),
               let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(value)"
        }
    }

    /// One `status --json` document: `{"master": {...}, "processes": [...]}`.
    struct StatsSnapshot: CustomStringConvertible {
        let master: [String: Any]
        let processes: [StatsProcess]
        let raw: [String: Any]

        init?(_ object: [String: Any]) {
            guard let master = object["master"] as? [String: Any], let list = object["processes"] as? [Any] else { return nil }
            let processes = list.compactMap { ($0 as? [String: Any]).flatMap(StatsProcess.init) }
            guard processes.count == list.count else { return nil }
            self.master = master
            self.processes = processes
            self.raw = object
        }

        func inGroup(_ name: String) -> [StatsProcess] { processes.filter { $0.group == name }.sorted { $0.id < $1.id } }

        func process(pid: Int32) -> StatsProcess? { processes.first { $0.pid == pid } }

        /// The master's summary of one group.
        func groupSummary(_ name: String) -> [String: Any]? {
            (master["groupSummaries"] as? [Any])?.compactMap { $0 as? [String: Any] }.first { $0["name"] as? String == name }
        }

        var description: String { StatsJSON.text(raw) }
    }

    /// One `process` item of a status document.
    struct StatsProcess: CustomStringConvertible {
        let object: [String: Any]
        let group: String
        let id: Int

        init?(_ object: [String: Any]) {
            guard let group = object["group"] as? String, let id = StatsJSON.int(object["id"]) else { return nil }
            self.object = object
            self.group = group
            self.id = id
        }

        var pid: Int32? { StatsJSON.int(object["pid"]).map(Int32.init) }
        var state: String? { object["state"] as? String }
        var uptime: Double? { StatsJSON.double(object["uptime"]) }
        var restarts: Int? { StatsJSON.int(object["restarts"]) }
        var rss: Double? { StatsJSON.double(object["rss"]) }
        var cpu: Double? { StatsJSON.double(object["cpu"]) }
        var fds: Int? { StatsJSON.int(object["fds"]) }
        var threads: Int? { StatsJSON.int(object["threads"]) }
        /// `tcp` by state; nil when the member is missing.
        var tcp: [String: Int]? {
            (object["tcp"] as? [String: Any])?.compactMapValues { StatsJSON.int($0) }
        }
        var established: Int { tcp?["established"] ?? 0 }
        var appStats: [String: Any]? { object["appStats"] as? [String: Any] }
        var statusText: String? { object["statusText"] as? String }
        var lastExit: [String: Any]? { object["lastExit"] as? [String: Any] }

        var description: String { "\(group)#\(id) " + StatsJSON.text(object) }
    }

    /// One `connection` item.
    struct StatsConnection: CustomStringConvertible {
        let group: String
        let id: Int
        let pid: Int32
        let local: String
        let remote: String
        let state: String
        let sendQueue: Int
        let receiveQueue: Int

        init?(_ object: [String: Any]) {
            guard let group = object["group"] as? String, let id = StatsJSON.int(object["id"]),
                  let pid = StatsJSON.int(object["pid"]), let local = object["local"] as? String,
                  let remote = object["remote"] as? String, let state = object["state"] as? String,
                  let sendQueue = StatsJSON.int(object["sendQueue"]), let receiveQueue = StatsJSON.int(object["receiveQueue"])
            else { return nil }
            (self.group, self.id, self.pid, self.local, self.remote, self.state) = (group, id, Int32(pid), local, remote, state)
            (self.sendQueue, self.receiveQueue) = (sendQueue, receiveQueue)
        }

        /// The port of `remote` (`127.0.0.1:51234` → 51234).
        var remotePort: UInt16? { remote.split(separator: ":").last.flatMap { UInt16($0) } }

        var description: String { "\(group)#\(id)[\(pid)] \(local) ← \(remote) \(state) q\(sendQueue)/\(receiveQueue)" }
    }

    /// Deadline polling whose probe may await (e.g. run `appctl`), between
    /// tries a ~10 ms pause.
    enum StatsPolling {
        static func value<T>(
            timeout: Double, _ what: String, context: () -> String = { "" },
            sourceLocation: SourceLocation = #_sourceLocation, _ probe: () async throws -> T?
        ) async throws -> T {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while true {
                if let value = try await probe() { return value }
                if ContinuousClock.now >= deadline {
                    throw WaitTimedOut(what: what, seconds: timeout, location: sourceLocation, context: context())
                }
                try await Task.sleep(for: Polling.interval)
            }
        }
    }
}
