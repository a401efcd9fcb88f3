import Foundation
import Testing
@testable import Shared

// What the config check catches beyond types and ranges: group names appctl
// could not address, runtime files that collide, and (appd --check only)
// commands that cannot be run.

/// A private temporary directory, removed with the value (also for
/// ProcessSettingsConfigTests).
final class CheckDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("appd-check-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var configPath: String { path + "/appd.json" }

    /// Creates `name` with `mode` and returns its path.
    @discardableResult
    func file(_ name: String, mode: Int, contents: String = "#!/bin/sh\nexit 0\n") throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: file, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }

    /// The problems of `text` as `fieldPath: message`, with this directory written `$DIR`.
    func problems(_ text: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(text, sourcePath: configPath)
            return []
        } catch {
            return error.problems.map { "\($0.fieldPath): \($0.message)".replacingOccurrences(of: path, with: "$DIR") }
        }
    }
}

// MARK: - Group names

@Test func groupNamesAppctlCouldNotAddressAreRefused() throws {
    let scratch = try CheckDirectory()
    func problems(forName name: String) -> [String] {
        scratch.problems(#"{groups: [{name: "\#(name)", command: ["x"]}]}"#)
    }
    #expect(problems(forName: "-web") == ["groups[0].name: must not start with '-' (appctl would take it for an option), got '-web'"])
    #expect(problems(forName: "--help") == ["groups[0].name: must not start with '-' (appctl would take it for an option), got '--help'"])
    #expect(problems(forName: "..") == ["groups[0].name: must not be '.' or contain '..' (it may become part of a file name), got '..'"])
    #expect(problems(forName: ".") == ["groups[0].name: must not be '.' or contain '..' (it may become part of a file name), got '.'"])
    #expect(problems(forName: "a..b") == ["groups[0].name: must not be '.' or contain '..' (it may become part of a file name), got 'a..b'"])
    // The existing character rule already keeps out '/', white space, control characters and non-ASCII.
    for name in ["a/b", "a b", "a\\tb", "a\\u0007b", "a\\nb", "grüße", ""] {
        #expect(problems(forName: name).count == 1, "\(name)")
    }
    #expect(problems(forName: "a/b") == ["groups[0].name: may contain only letters, digits, '_', '.' and '-', got 'a/b'"])
    // Still fine: dots and dashes inside, a leading dot or underscore.
    for name in ["web-1", "jobs.v2", ".hidden", "_private", "a-", "v1.2.3"] {
        #expect(problems(forName: name).isEmpty, "\(name)")
    }
}

// MARK: - Runtime files

@Test func runtimeFilesThatCollideAreRefused() throws {
    let scratch = try CheckDirectory()
    let group = #"groups: [{name: "a", command: ["x"]}]"#
    let ownPaths = #"controlSocket: "run/appd.sock", pidFile: "run/appd.pid", statusFile: "run/appd.status", logFile: "appd.log""#

    #expect(scratch.problems("{\(ownPaths), \(group)}").isEmpty)
    #expect(scratch.problems(#"{pidFile: "run/appd.pid", statusFile: "run/appd.pid", \#(group)}"#)
        == ["statusFile: '$DIR/run/appd.pid' is also pidFile; every runtime file needs a path of its own"])
    #expect(scratch.problems(#"{pidFile: "run/x", logFile: "./run/../run/x", \#(group)}"#)
        == ["logFile: '$DIR/run/x' is also pidFile; every runtime file needs a path of its own"])
    #expect(scratch.problems(#"{controlSocket: "run/x", pidFile: "run/x", \#(group)}"#)
        == ["pidFile: '$DIR/run/x' is also controlSocket; every runtime file needs a path of its own"])
    // The config file itself, under any spelling of its path.
    #expect(scratch.problems(#"{statusFile: "appd.json", \#(group)}"#)
        == ["statusFile: '$DIR/appd.json' is also the config file; every runtime file needs a path of its own"])
    #expect(scratch.problems(#"{logFile: "\#(scratch.path)/./appd.json", controlSocket: "appd.json", \#(group)}"#) == [
        "controlSocket: '$DIR/appd.json' is also the config file; every runtime file needs a path of its own",
        "logFile: '$DIR/appd.json' is also the config file; every runtime file needs a path of its own",
    ])
    // The connections snapshot, written beside the status file.
    #expect(scratch.problems(#"{statusFile: "run/s", logFile: "run/s.connections", \#(group)}"#)
        == ["logFile: '$DIR/run/s.connections' is also the connections snapshot (statusFile + '.connections'); every runtime file needs a path of its own"])
    // Against a default: reported at the field that was set.
    let defaultPid = RuntimePaths.defaultPidFile
    #expect(scratch.problems(#"{statusFile: "\#(defaultPid)", \#(group)}"#)
        == ["statusFile: '\(defaultPid)' is also pidFile; every runtime file needs a path of its own"])
    #expect(scratch.problems(#"{controlSocket: "\#(defaultPid)", \#(group)}"#)
        == ["controlSocket: '\(defaultPid)' is also the default pidFile; every runtime file needs a path of its own"])
    // logFile "-" is stderr, not a file.
    #expect(scratch.problems(#"{logFile: "-", \#(group)}"#).isEmpty)
    // A field with a problem of its own is not compared: its default is not what was meant.
    #expect(scratch.problems(#"{pidFile: "", statusFile: "\#(defaultPid)", \#(group)}"#) == ["pidFile: must not be empty"])
}

@Test func unixListenSocketsMustNotBeRuntimeFiles() throws {
    let scratch = try CheckDirectory()
    #expect(scratch.problems(#"{pidFile: "run/appd.pid", groups: [{name: "a", command: ["x"], listen: ["unix:run/appd.pid", "unix:appd.json", "unix:run/web.sock"]}]}"#) == [
        "groups[0].listen[0]: 'unix:$DIR/run/appd.pid' is also pidFile; every runtime file needs a path of its own",
        "groups[0].listen[1]: 'unix:$DIR/appd.json' is also the config file; every runtime file needs a path of its own",
    ])
    // The control socket keeps its own message.
    #expect(scratch.problems(#"{controlSocket: "ctl.sock", groups: [{name: "a", command: ["x"], listen: ["unix:ctl.sock"]}]}"#)
        == ["groups[0].listen[0]: 'unix:$DIR/ctl.sock' is already used at controlSocket"])
}

// MARK: - Commands (appd --check)

@Test func commandsAreResolvedLikeTheDaemonDoesAndNotFoundIsToldFromPermissionDenied() throws {
    let scratch = try CheckDirectory()
    try scratch.file("bin/server", mode: 0o755)
    try scratch.file("bin/readonly", mode: 0o644)
    try FileManager.default.createDirectory(atPath: scratch.path + "/bin/subdir", withIntermediateDirectories: true)
    try scratch.file("other/tool", mode: 0o755)
    let config = try ConfigLoader.parse(#"""
        {groups: [
          {name: "ok-absolute", command: ["\#(scratch.path)/bin/server"]},
          {name: "ok-relative", command: ["bin/server"]},
          {name: "ok-path", command: ["server"], env: {PATH: "\#(scratch.path)/nowhere:\#(scratch.path)/bin"}},
          {name: "ok-appd-path", command: ["tool"]},
          {name: "missing-absolute", command: ["\#(scratch.path)/bin/nope"]},
          {name: "missing-relative", command: ["bin/nope", "--flag"]},
          {name: "missing-path", command: ["nope"], env: {PATH: "/nonexistent-a:/nonexistent-b"}},
          {name: "denied", command: ["bin/readonly"]},
          {name: "denied-path", command: ["readonly"], env: {PATH: "\#(scratch.path)/bin"}},
          {name: "directory", command: ["\#(scratch.path)/bin/subdir"]},
          {name: "missing-appd-path", command: ["tool2"]},
        ]}
        """#, sourcePath: scratch.configPath)

    let problems = ConfigLoader.commandProblems(in: config, environment: ["PATH": "\(scratch.path)/other"])
        .map { "\($0.fieldPath): \($0.message)".replacingOccurrences(of: scratch.path, with: "$DIR") }

    #expect(problems == [
        "groups[4].command[0]: command '$DIR/bin/nope' does not exist",
        "groups[5].command[0]: command 'bin/nope' ('$DIR/bin/nope', relative to the group's cwd) does not exist",
        "groups[6].command[0]: command 'nope' not found in the group's env PATH (/nonexistent-a:/nonexistent-b)",
        "groups[7].command[0]: command 'bin/readonly' ('$DIR/bin/readonly', relative to the group's cwd) cannot be executed: permission denied (mode 0644)",
        "groups[8].command[0]: command 'readonly' is found in the group's env PATH but cannot be executed: '$DIR/bin/readonly': permission denied (mode 0644)",
        "groups[9].command[0]: command '$DIR/bin/subdir' cannot be executed: it is a directory",
        "groups[10].command[0]: command 'tool2' not found in PATH ($DIR/other)",
    ])
    #expect(ConfigLoader.commandProblems(in: config, environment: [:]).contains {
        $0.message == "command 'tool2' not found in the default PATH (/usr/local/bin:/usr/bin:/bin)"
    })
    // Each problem names the file, like every config problem.
    #expect(ConfigLoader.commandProblems(in: config, environment: [:]).allSatisfy { $0.file == scratch.configPath })
}

@Test func whatExecWouldMakeOfAPath() {
    #expect(ConfigLoader.inspectExecutable("/nonexistent-dir/x") == .missing)
    #expect(ConfigLoader.inspectExecutable("/etc/passwd/x") == .missing, "ENOTDIR is 'not found', as for execvp")
    #expect(ConfigLoader.inspectExecutable("/bin/sh") == .executable)
    #expect(ConfigLoader.inspectExecutable("/dev/null") == .refused("it is not a regular file"))
}
