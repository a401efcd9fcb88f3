import Foundation
import Testing
@testable import Shared

/// The log settings: `logFile` (string or object), the top-level `log` as
/// the groups' default, each group's `log`, `stderr` and `history`, and the
/// precise errors for each field.
@Suite struct LogConfigTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("appd-log-config-\(UUID().uuidString)").path
    var configPath: String { directory + "/appd.json" }

    func load(_ text: String) throws -> DaemonConfig { try ConfigLoader.parse(text, sourcePath: configPath) }

    /// The problems of `text` as `fieldPath: message`, with the directory written `$DIR`.
    func problems(_ text: String) -> [String] {
        do throws(ConfigError) {
            _ = try ConfigLoader.parse(text, sourcePath: configPath)
            return []
        } catch {
            return error.problems.map { "\($0.fieldPath): \($0.message)".replacingOccurrences(of: directory, with: "$DIR") }
        }
    }

    @Test func theStringFormOfLogFileIsNeverRotatedAsBefore() throws {
        let config = try load(#"{logFile: "appd.log", groups: [{name: "a", command: ["x"]}]}"#)
        #expect(config.daemonLog == LogFileConfig(path: directory + "/appd.log", maxBytes: 0, keep: 0, format: .text))
        #expect(config.daemonLog.rotatedPaths.isEmpty)
        #expect(try load(#"{groups: [{name: "a", command: ["x"]}]}"#).daemonLog == .standardError)
    }

    @Test func theObjectFormOfLogFileRotatesWithDefaults() throws {
        let config = try load(#"{logFile: {file: "logs/appd.log", keep: 2, format: "json"}, groups: [{name: "a", command: ["x"]}]}"#)
        #expect(config.daemonLog == LogFileConfig(path: directory + "/logs/appd.log", maxBytes: 10 << 20, keep: 2, format: .json))
        #expect(config.daemonLog.rotatedPaths == [directory + "/logs/appd.log.1", directory + "/logs/appd.log.2"])
        #expect(try load(#"{logFile: {file: "-", format: "json"}, groups: [{name: "a", command: ["x"]}]}"#).daemonLog
            == LogFileConfig(path: "-", maxBytes: 0, keep: 0, format: .json))
    }

    @Test func groupsTakeTheTopLevelLogAsTheirDefault() throws {
        let config = try load("""
            {
              log: {file: "logs/{group}.log", maxBytes: 4096, format: "json"},
              groups: [
                {name: "web", command: ["x"]},
                {name: "queue", command: ["x"], log: {keep: 1}, stderr: {file: "logs/queue.err", maxBytes: 0}},
                {name: "quiet", command: ["x"], log: {file: "-"}, history: {lines: 10}},
              ],
            }
            """)
        let (web, queue, quiet) = (config.groups[0], config.groups[1], config.groups[2])
        #expect(web.log == LogFileConfig(path: directory + "/logs/web.log", maxBytes: 4096, keep: 5, format: .json))
        #expect(web.stderrLog == nil && web.history == .standard)
        #expect(queue.log == LogFileConfig(path: directory + "/logs/queue.log", maxBytes: 4096, keep: 1, format: .json))
        #expect(queue.stderrLog == LogFileConfig(path: directory + "/logs/queue.err", maxBytes: 0, keep: 1, format: .json),
                "stderr takes what it leaves out from the group's log")
        #expect(quiet.log == nil, "\"-\": the daemon's log")
        #expect(quiet.history == HistoryLimits(lines: 10, bytes: 1 << 20))
        #expect(try load(#"{groups: [{name: "a", command: ["x"]}]}"#).groups[0].log == nil, "no file anywhere: the daemon's log")
    }

    @Test func eachWrongValueIsNamedByItsFieldPath() {
        #expect(problems(#"{logFile: 3, groups: [{name: "a", command: ["x"]}]}"#)
            == [#"logFile: must be a path, "-" (stderr) or an object {file, maxBytes, keep, format}, got number 3"#])
        #expect(problems(#"{logFile: {maxBytes: 100, keep: -1, format: "xml", size: 1}, groups: [{name: "a", command: ["x"]}]}"#) == [
            "logFile.size: unknown field 'size'; did you mean 'file'?",
            "logFile.maxBytes: must be 0 (never rotated) or at least 1024, got 100",
            "logFile.keep: must be 0 or more, got -1",
            #"logFile.format: must be "text" or "json" or "raw", got "xml""#,
            "logFile.file: is required",
        ])
        #expect(problems(#"{logFile: {file: "-", maxBytes: 2048}, groups: [{name: "a", command: ["x"]}]}"#)
            == [#"logFile.maxBytes: applies to a file, not to "-" (stderr, which appd cannot rotate)"#])
        #expect(problems(#"{log: {file: "logs/all.log"}, groups: [{name: "a", command: ["x"]}]}"#)
            == [#"log.file: must contain {group}, so that each group gets a file of its own (e.g. "logs/{group}.log"), got '$DIR/logs/all.log'"#])
        #expect(problems(#"{groups: [{name: "a", command: ["x"], log: {keep: 101}, stderr: {maxBytes: 0}}]}"#) == [
            "groups[0].log.keep: must be 100 or less, got 101",
            "groups[0].log.file: is required (here, or with {group} in the top-level log)",
            "groups[0].stderr.file: is required",
        ])
        #expect(problems(#"{groups: [{name: "a", command: ["x"], history: {lines: 0, bytes: 1000, size: 3}}]}"#) == [
            "groups[0].history.size: unknown field 'size'",
            "groups[0].history.lines: must be 1 or more, got 0",
            "groups[0].history.bytes: must be 65536 or more, got 1000",
        ])
    }

    @Test func rawIsForAGroupsOutputNotForTheDaemonsOwnLog() throws {
        #expect(problems(#"{logFile: {file: "appd.log", format: "raw"}, groups: [{name: "a", command: ["x"]}]}"#)
            == [#"logFile.format: "raw" is for a group's output (the workers' bytes as they wrote them); appd's own log is "text" or "json""#])
        let config = try load(#"""
            {log: {file: "logs/{group}.log", format: "raw"},
             groups: [{name: "web", command: ["x"]}, {name: "queue", command: ["x"], stderr: {file: "logs/queue.err", format: "text"}}]}
            """#)
        #expect(config.groups[0].log?.format == .raw && config.groups[0].stderrLog == nil, "stdout and stderr into one raw file")
        #expect(config.groups[1].log?.format == .raw && config.groups[1].stderrLog?.format == .text, "stderr may be lines while stdout is raw")
    }

    @Test func logFilesAndTheirRotatedCopiesNeedPathsOfTheirOwn() {
        #expect(problems(#"{logFile: "logs/a.log", groups: [{name: "a", command: ["x"], log: {file: "logs/a.log"}}]}"#)
            == ["groups[0].log: '$DIR/logs/a.log' is also logFile; every runtime file needs a path of its own"])
        #expect(problems("""
            {groups: [{name: "a", command: ["x"], log: {file: "a.log"}}, {name: "b", command: ["x"], stderr: {file: "a.log.2"}}]}
            """) == ["groups[1].stderr: '$DIR/a.log.2' is also a rotated copy of the log of group a; every runtime file needs a path of its own"])
        #expect(problems("""
            {groups: [{name: "a", command: ["x"], log: {file: "a.log"}, stderr: {file: "a.log"}}]}
            """) == ["groups[0].stderr: '$DIR/a.log' is also the log of group a; every runtime file needs a path of its own"])
        #expect(problems("""
            {log: {file: "{group}.sock"}, groups: [{name: "a", command: ["x"]}, {name: "b", command: ["x"], listen: ["unix:a.sock"]}]}
            """) == ["groups[1].listen[0]: 'unix:$DIR/a.sock' is also the log of group a; every runtime file needs a path of its own"])
        #expect(problems(#"{logFile: {file: "x.log", keep: 3}, groups: [{name: "a", command: ["x"], log: {file: "x.log.3"}}]}"#)
            == ["groups[0].log: '$DIR/x.log.3' is also a rotated copy of logFile; every runtime file needs a path of its own"])
    }
}
