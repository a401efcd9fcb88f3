import Foundation
import Testing
import Shared

/// A fresh directory under the system temp dir, removed with the value, so
/// config files and relative paths have a real, private home per test.
private final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("appd-config-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var configPath: String { path + "/appd.json" }

    /// Writes `text` as the config file and returns its path.
    func writeConfig(_ text: String) throws -> String {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        return configPath
    }
}

/// The problems `text` has, each as `fieldPath: message` (just the message
/// for whole-file problems); empty when the config is valid.
private func problems(in text: String, directory: ScratchDirectory) -> [String] {
    do {
        _ = try ConfigLoader.parse(text, sourcePath: directory.configPath)
        return []
    } catch {
        #expect(error.problems.allSatisfy { $0.file == directory.configPath })
        return error.problems.map { $0.fieldPath.isEmpty ? $0.message : "\($0.fieldPath): \($0.message)" }
    }
}

// MARK: Valid configs

@Test func fullConfigWithCommentsAndTrailingCommasRoundTrips() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.writeConfig("""
        // The appd config, JSON5.
        {
          controlSocket: "/run/appd/appd.sock",
          pidFile: "/run/appd/appd.pid",
          statusFile: "/run/appd/appd.status",
          logFile: "/var/log/appd.log",
          stopTimeout: 3.5,
          /* two groups */
          groups: [
            {
              name: "web",
              command: ["python3", "server.py", "--port=8080"],
              count: 4,
              reloadable: true,
              listen: ["tcp://127.0.0.1:8080", "tcp://[::1]:8081", "unix:/run/appd/web.sock",],
              readiness: "notify",
              readyTimeout: 12,
              stopSignal: "SIGINT",
              stopTimeout: 5,
              env: {MODE: "prod", 'EMPTY': ""},
              cwd: "/",
            },
            {
              name: "jobs.v2",
              command: ['/usr/bin/worker'],
              count: 0,
              reloadable: false,
              readiness: {afterSeconds: 1.5},
              stopSignal: 15,
            },
          ],
        }
        """)

    let config = try ConfigLoader.load(path: path)

    #expect(config == DaemonConfig(
        sourcePath: path, controlSocket: "/run/appd/appd.sock", pidFile: "/run/appd/appd.pid",
        statusFile: "/run/appd/appd.status", daemonLog: .unrotated("/var/log/appd.log"), stopTimeout: 3.5,
        groups: [
            GroupConfig(
                name: "web", command: ["python3", "server.py", "--port=8080"], count: 4, reloadable: true,
                listen: [.tcp(host: "127.0.0.1", port: 8080), .tcp(host: "::1", port: 8081), .unix(path: "/run/appd/web.sock")],
                readiness: .notify, readyTimeout: 12, stopSignal: .interrupt, stopTimeout: 5,
                env: ["MODE": "prod", "EMPTY": ""], cwd: "/"
            ),
            GroupConfig(
                name: "jobs.v2", command: ["/usr/bin/worker"], count: 0, reloadable: false, listen: [],
                readiness: .afterSeconds(1.5), readyTimeout: 30, stopSignal: .terminate, stopTimeout: 3.5,
                env: [:], cwd: scratch.path
            ),
        ]
    ))
}

@Test func absentFieldsGetTheirDefaults() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse(#"{groups: [{name: "a", command: ["x"]}]}"#, sourcePath: scratch.configPath)

    #expect(config == DaemonConfig(
        sourcePath: scratch.configPath, controlSocket: RuntimePaths.defaultControlSocket,
        pidFile: RuntimePaths.defaultPidFile, statusFile: RuntimePaths.defaultStatusFile,
        daemonLog: .standardError, stopTimeout: 2,
        groups: [GroupConfig(
            name: "a", command: ["x"], count: 1, reloadable: true, listen: [], readiness: .afterSeconds(1),
            readyTimeout: 30, stopSignal: .terminate, stopTimeout: 2, env: [:], cwd: scratch.path,
            reloadStrategy: .startFirst, maxSurge: 1, watchdogSeconds: nil
        )]
    ))
}

@Test func groupStopTimeoutDefaultsToTheTopLevelOne() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse(
        #"{stopTimeout: 7, groups: [{name: "a", command: ["x"]}, {name: "b", command: ["x"], stopTimeout: 1}]}"#,
        sourcePath: scratch.configPath
    )
    #expect(config.groups.map(\.stopTimeout) == [7, 1])
}

@Test func relativePathsResolveAgainstTheConfigDirectory() throws {
    let scratch = try ScratchDirectory()
    try FileManager.default.createDirectory(atPath: scratch.path + "/app", withIntermediateDirectories: false)
    let path = try scratch.writeConfig("""
        {
          controlSocket: "run/../run/./appd.sock",
          pidFile: "run/appd.pid",
          statusFile: "./appd.status",
          logFile: "logs/appd.log",
          groups: [{name: "a", command: ["bin/x"], listen: ["unix:sockets/a.sock"], cwd: "app/"}],
        }
        """)

    let config = try ConfigLoader.load(path: path)

    let dir = scratch.path
    #expect(config.controlSocket == "\(dir)/run/appd.sock")
    #expect(config.pidFile == "\(dir)/run/appd.pid")
    #expect(config.statusFile == "\(dir)/appd.status")
    #expect(config.daemonLog == .unrotated("\(dir)/logs/appd.log"))
    #expect(config.groups[0].listen == [.unix(path: "\(dir)/sockets/a.sock")])
    #expect(config.groups[0].cwd == "\(dir)/app")
    #expect(config.groups[0].command == ["bin/x"], "argv is left for PATH lookup and cwd, not resolved")
}

@Test func logFileDashMeansStderrAndStaysADash() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse(#"{logFile: "-", groups: [{name: "a", command: ["x"]}]}"#, sourcePath: scratch.configPath)
    #expect(config.daemonLog == .standardError)
}

/// JSONSerialization's `Any` would read `0` and `false` alike; both must be
/// taken as the values they are, not as missing or as each other.
@Test func zeroAndFalseAreValuesOfTheirOwnType() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse(
        #"{groups: [{name: "a", command: ["x"], count: 0, reloadable: false, readiness: {afterSeconds: 0}}]}"#,
        sourcePath: scratch.configPath
    )
    #expect(config.groups[0].count == 0)
    #expect(config.groups[0].reloadable == false)
    #expect(config.groups[0].readiness == .afterSeconds(0))
}

// MARK: Problems

/// One bad config and the exact problems it must produce. `$DIR` stands for
/// the scratch directory holding the config.
struct ConfigErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let config: String
    let problems: [String]

    var testDescription: String { name }
}

private let errorCases: [ConfigErrorCase] = [
    .init(name: "missing name", config: #"{groups: [{command: ["x"]}]}"#, problems: ["groups[0].name: is required"]),
    .init(
        name: "duplicate group name",
        config: #"{groups: [{name: "web", command: ["a"]}, {name: "jobs", command: ["b"]}, {name: "web", command: ["c"]}]}"#,
        problems: ["groups[2].name: duplicate group name 'web', first used at groups[0].name"]
    ),
    .init(
        name: "name with a space",
        config: #"{groups: [{name: "my web", command: ["x"]}]}"#,
        problems: ["groups[0].name: may contain only letters, digits, '_', '.' and '-', got 'my web'"]
    ),
    .init(
        name: "count beyond the limit",
        config: #"{groups: [{name: "a", command: ["x"], count: 10001}]}"#,
        problems: ["groups[0].count: must be 10000 or less, got 10001"]
    ),
    .init(
        name: "timeout beyond the limit",
        config: #"{stopTimeout: 1e11, groups: [{name: "a", command: ["x"], readiness: {afterSeconds: 2e6}}]}"#,
        problems: ["stopTimeout: must be 1000000 or less, got 100000000000",
                   "groups[0].readiness.afterSeconds: must be 1000000 or less, got 2000000"]
    ),
    .init(
        name: "negative count",
        config: #"{groups: [{name: "a", command: ["x"]}, {name: "b", command: ["x"], count: -2}]}"#,
        problems: ["groups[1].count: must be 0 or more, got -2"]
    ),
    .init(
        name: "count as string",
        config: #"{groups: [{name: "a", command: ["x"], count: "4"}]}"#,
        problems: [#"groups[0].count: must be an integer, got string "4""#]
    ),
    .init(
        name: "count as boolean",
        config: #"{groups: [{name: "a", command: ["x"], count: true}]}"#,
        problems: ["groups[0].count: must be an integer, got boolean true"]
    ),
    .init(
        name: "count as fraction",
        config: #"{groups: [{name: "a", command: ["x"], count: 1.5}]}"#,
        problems: ["groups[0].count: must be an integer, got number 1.5"]
    ),
    .init(
        name: "reloadable as number",
        config: #"{groups: [{name: "a", command: ["x"], reloadable: 1}]}"#,
        problems: ["groups[0].reloadable: must be a boolean, got number 1"]
    ),
    .init(
        name: "empty command",
        config: #"{groups: [{name: "a", command: []}]}"#,
        problems: ["groups[0].command: must not be empty"]
    ),
    .init(
        name: "command as string",
        config: #"{groups: [{name: "a", command: "python3 server.py"}]}"#,
        problems: [#"groups[0].command: must be an array of strings (argv, no shell), got string "python3 server.py""#]
    ),
    .init(
        name: "empty and non-string argv elements",
        config: #"{groups: [{name: "a", command: ["x", "", 3]}]}"#,
        problems: ["groups[0].command[1]: must not be empty", "groups[0].command[2]: must be a string, got number 3"]
    ),
    .init(
        name: "unparsable listen address",
        config: #"{groups: [{name: "a", command: ["x"], listen: ["tcp://127.0.0.1:8080", "unix:/tmp/a.sock", "http://h:80"]}]}"#,
        problems: ["groups[0].listen[2]: invalid listen address 'http://h:80': expected tcp://HOST:PORT or unix:PATH"]
    ),
    .init(
        name: "port 0",
        config: #"{groups: [{name: "a", command: ["x"], listen: ["tcp://127.0.0.1:0"]}]}"#,
        problems: ["groups[0].listen[0]: invalid listen address 'tcp://127.0.0.1:0': port must be 1-65535, got '0'"]
    ),
    .init(
        name: "port 70000",
        config: #"{groups: [{name: "a", command: ["x"], listen: ["tcp://127.0.0.1:70000"]}]}"#,
        problems: ["groups[0].listen[0]: invalid listen address 'tcp://127.0.0.1:70000': port must be 1-65535, got '70000'"]
    ),
    .init(
        name: "host name instead of address",
        config: #"{groups: [{name: "a", command: ["x"], listen: ["tcp://localhost:80"]}]}"#,
        problems: [
            "groups[0].listen[0]: invalid listen address 'tcp://localhost:80': host must be an IPv4 address or an IPv6 address in brackets, got 'localhost'",
        ]
    ),
    .init(
        name: "bad IPv6",
        config: #"{groups: [{name: "a", command: ["x"], listen: ["tcp://[::g]:80"]}]}"#,
        problems: ["groups[0].listen[0]: invalid listen address 'tcp://[::g]:80': '::g' is not an IPv6 address"]
    ),
    .init(
        name: "same address in two groups",
        config: #"{groups: [{name: "a", command: ["x"], listen: ["tcp://127.0.0.1:8080"]}, {name: "b", command: ["x"], listen: ["tcp://127.0.0.1:8080"]}]}"#,
        problems: ["groups[1].listen[0]: 'tcp://127.0.0.1:8080' is already used at groups[0].listen[0]"]
    ),
    .init(
        name: "listen on the control socket",
        config: #"{controlSocket: "run/appd.sock", groups: [{name: "a", command: ["x"], listen: ["unix:run/appd.sock"]}]}"#,
        problems: ["groups[0].listen[0]: 'unix:$DIR/run/appd.sock' is already used at controlSocket"]
    ),
    .init(
        name: "unknown signal",
        config: #"{groups: [{name: "a", command: ["x"], stopSignal: "TREM"}]}"#,
        problems: ["groups[0].stopSignal: unknown signal 'TREM'"]
    ),
    .init(
        name: "unknown field with suggestion",
        config: #"{groups: [{name: "a", command: ["x"], cout: 2, Name: "b"}]}"#,
        problems: [
            "groups[0].Name: unknown field 'Name'; did you mean 'name'?",
            "groups[0].cout: unknown field 'cout'; did you mean 'count'?",
        ]
    ),
    .init(
        name: "unknown field without suggestion",
        config: #"{colour: "blue", groups: [{name: "a", command: ["x"]}]}"#,
        problems: ["colour: unknown field 'colour'"]
    ),
    .init(
        name: "env with number value",
        config: #"{groups: [{name: "a", command: ["x"], env: {PORT: 8080, MODE: "prod"}}]}"#,
        problems: ["groups[0].env.PORT: must be a string, got number 8080"]
    ),
    .init(
        name: "env as array",
        config: #"{groups: [{name: "a", command: ["x"], env: ["A=1"]}]}"#,
        problems: ["groups[0].env: must be an object of strings, got an array"]
    ),
    .init(
        name: "readiness unknown word",
        config: #"{groups: [{name: "a", command: ["x"], readiness: "ready"}]}"#,
        problems: [#"groups[0].readiness: must be "notify", "none" or {afterSeconds: N}, got string "ready""#]
    ),
    .init(
        name: "readiness negative delay",
        config: #"{groups: [{name: "a", command: ["x"], readiness: {afterSeconds: -1}}]}"#,
        problems: ["groups[0].readiness.afterSeconds: must be 0 or more, got -1"]
    ),
    .init(
        name: "readiness object with a wrong key",
        config: #"{groups: [{name: "a", command: ["x"], readiness: {after: 1}}]}"#,
        problems: ["groups[0].readiness.after: unknown field 'after'", "groups[0].readiness.afterSeconds: is required"]
    ),
    .init(
        name: "zero stop timeout",
        config: #"{stopTimeout: 0, groups: [{name: "a", command: ["x"]}]}"#,
        problems: ["stopTimeout: must be greater than 0, got 0"]
    ),
    .init(
        name: "infinite ready timeout",
        config: #"{groups: [{name: "a", command: ["x"], readyTimeout: Infinity}]}"#,
        problems: ["groups[0].readyTimeout: must be finite, got Infinity"]
    ),
    .init(
        name: "missing cwd",
        config: #"{groups: [{name: "a", command: ["x"], cwd: "nope"}]}"#,
        problems: ["groups[0].cwd: no such directory '$DIR/nope'"]
    ),
    .init(
        name: "empty log file",
        config: #"{logFile: "", groups: [{name: "a", command: ["x"]}]}"#,
        problems: ["logFile: must not be empty"]
    ),
    .init(
        name: "control socket path too long for sockaddr_un",
        config: #"{controlSocket: "/\#(String(repeating: "s", count: 120))", groups: [{name: "a", command: ["x"]}]}"#,
        problems: ["controlSocket: socket path '/\(String(repeating: "s", count: 120))' is 121 bytes; Unix sockets allow at most 107"]
    ),
    .init(name: "no groups", config: "{groups: []}", problems: ["groups: must not be empty"]),
    .init(name: "groups missing", config: "{}", problems: ["groups: is required"]),
    .init(
        name: "group not an object",
        config: #"{groups: ["web"]}"#,
        problems: [#"groups[0]: must be an object, got string "web""#]
    ),
    .init(name: "top level not an object", config: "[]", problems: ["must be an object, got an array"]),
]

@Test(arguments: errorCases)
func eachProblemNamesItsFieldAndWhatIsWrong(_ errorCase: ConfigErrorCase) throws {
    let scratch = try ScratchDirectory()
    let expected = errorCase.problems.map { $0.replacingOccurrences(of: "$DIR", with: scratch.path) }
    #expect(problems(in: errorCase.config, directory: scratch) == expected)
}

@Test func everyProblemInOneFileIsReportedAtOnce() throws {
    let scratch = try ScratchDirectory()
    let config = """
        {
          stopTimeout: -1,
          groups: [
            {name: "web", command: "server", count: -2, listen: ["tcp://127.0.0.1:0"]},
            {name: "web", command: ["x"], stopSignal: "TREM", env: {DEBUG: true}, readiness: "soon"},
            {command: ["y"], cout: 2},
          ],
        }
        """
    #expect(problems(in: config, directory: scratch) == [
        "stopTimeout: must be greater than 0, got -1",
        #"groups[0].command: must be an array of strings (argv, no shell), got string "server""#,
        "groups[0].count: must be 0 or more, got -2",
        "groups[0].listen[0]: invalid listen address 'tcp://127.0.0.1:0': port must be 1-65535, got '0'",
        "groups[1].name: duplicate group name 'web', first used at groups[0].name",
        #"groups[1].readiness: must be "notify", "none" or {afterSeconds: N}, got string "soon""#,
        "groups[1].stopSignal: unknown signal 'TREM'",
        "groups[1].env.DEBUG: must be a string, got boolean true",
        "groups[2].cout: unknown field 'cout'; did you mean 'count'?",
        "groups[2].name: is required",
    ])
}

@Test func errorDescriptionIsOneLinePerProblemNamingTheFile() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.writeConfig(#"{groups: [{name: "a", command: ["x"]}, {name: "b", command: ["x"], count: -2, cwd: 3}]}"#)

    let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: path) }

    #expect(error.description == """
        \(path): groups[1].count: must be 0 or more, got -2
        \(path): groups[1].cwd: must be a string, got number 3
        """)
}

@Test func syntaxErrorIsOneProblemWithLineAndColumn() throws {
    let scratch = try ScratchDirectory()
    let path = try scratch.writeConfig("{\n  groups: [\n    {name: \"a\" command: [\"x\"]},\n  ],\n}\n")

    let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: path) }

    #expect(error.problems.count == 1)
    #expect(error.problems[0].file == path)
    #expect(error.problems[0].fieldPath == "")
    #expect(error.problems[0].position == SourcePosition(line: 3, column: 16))
    #expect(error.description == "\(path):3:16: unexpected 'command' (expected ',' or '}'; is a comma missing before it?)")
}

@Test func unreadableFileNamesThePathAndTheReason() throws {
    let scratch = try ScratchDirectory()
    let missing = scratch.path + "/missing.json"

    let notFound = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: missing) }
    let directory = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: scratch.path) }

    #expect(notFound.problems == [ConfigProblem(file: missing, fieldPath: "", message: "cannot read: No such file or directory")])
    #expect(directory.problems == [ConfigProblem(file: scratch.path, fieldPath: "", message: "cannot read: Is a directory")])
}

// MARK: Summary, demo, runtime paths

@Test func summaryCountsGroupsAndProcesses() throws {
    let scratch = try ScratchDirectory()
    let two = try ConfigLoader.parse(#"""
        {groups: [
          {name: "web", command: ["x"], count: 4, listen: ["tcp://127.0.0.1:8080", "unix:web.sock"]},
          {name: "queue", command: ["x"]},
        ]}
        """#, sourcePath: scratch.configPath)
    let one = try ConfigLoader.parse(#"{groups: [{name: "solo", command: ["x"]}]}"#, sourcePath: scratch.configPath)

    #expect(ConfigLoader.summary(two)
        == "\(scratch.configPath): OK — 2 groups (web ×4 on tcp://127.0.0.1:8080 and unix:\(scratch.path)/web.sock, queue ×1), 5 processes")
    #expect(ConfigLoader.summary(one) == "\(scratch.configPath): OK — 1 group (solo ×1), 1 process")
}

@Test func demoConfigRunsWebAndQueue() throws {
    let demo = try DemoConfig.make(workerExecutable: "/opt/demo-worker", environment: [:])
    let cwd = FileManager.default.currentDirectoryPath

    #expect(demo == DaemonConfig(
        sourcePath: nil, controlSocket: RuntimePaths.defaultControlSocket, pidFile: RuntimePaths.defaultPidFile,
        statusFile: RuntimePaths.defaultStatusFile, daemonLog: .standardError, stopTimeout: 2,
        groups: [
            GroupConfig(
                name: "web", command: ["/opt/demo-worker", "web"], count: 2, reloadable: true,
                listen: [.tcp(host: "127.0.0.1", port: 8080)], readiness: .notify, readyTimeout: 10, cwd: cwd
            ),
            GroupConfig(
                name: "queue", command: ["/opt/demo-worker", "queue", "--interval", "2"], count: 1,
                reloadable: false, readiness: .none, cwd: cwd
            ),
        ]
    ))
    #expect(ConfigLoader.summary(demo)
        == "embedded demo config: OK — 2 groups (web ×2 on tcp://127.0.0.1:8080, queue ×1), 3 processes")
}

@Test func demoPortComesFromTheEnvironment() throws {
    let moved = try DemoConfig.make(workerExecutable: "w", environment: ["APPD_DEMO_PORT": "9191"])
    #expect(moved.group(named: "web")?.listen == [.tcp(host: "127.0.0.1", port: 9191)])

    let error = try #require(throws: ConfigError.self) {
        try DemoConfig.make(workerExecutable: "w", environment: ["APPD_DEMO_PORT": "http"])
    }
    #expect(error.description == "environment: APPD_DEMO_PORT: must be a port 1-65535, got 'http'")
}

@Test func runtimeDirectoryPrefersAnAbsoluteXDGRuntimeDir() {
    #expect(RuntimePaths.defaultDirectory(environment: ["XDG_RUNTIME_DIR": "/run/user/1000/"], userID: 1000)
        == "/run/user/1000/appd")
    #expect(RuntimePaths.defaultDirectory(environment: ["XDG_RUNTIME_DIR": "run/user"], userID: 1000) == "/tmp/appd-1000")
    #expect(RuntimePaths.defaultDirectory(environment: [:], userID: 42) == "/tmp/appd-42")
    #expect(RuntimePaths.defaultControlSocket == RuntimePaths.defaultDirectory + "/appd.sock")
}

@Test func reloadSettingsAreReadAndCheckedWithTheirFieldPaths() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse(
        #"{groups: [{name: "a", command: ["x"], reloadStrategy: "stopFirst", maxSurge: 3, watchdogSeconds: 5, readiness: "none"}]}"#,
        sourcePath: scratch.configPath)
    #expect(config.groups[0].reloadStrategy == .stopFirst)
    #expect(config.groups[0].maxSurge == 3)
    #expect(config.groups[0].watchdogSeconds == 5)
    #expect(config.groups[0].readiness == Readiness.none)

    #expect(throws: ConfigError.self) {
        try ConfigLoader.parse(#"{groups: [{name: "a", command: ["x"], reloadStrategy: "rolling"}]}"#, sourcePath: scratch.configPath)
    }
    do {
        _ = try ConfigLoader.parse(
            #"{groups: [{name: "a", command: ["x"], reloadStrategy: "rolling", maxSurge: 0, watchdogSeconds: -1}]}"#,
            sourcePath: scratch.configPath)
    } catch {
        let text = "\(error)"
        #expect(text.contains(#"groups[0].reloadStrategy: must be "startFirst" or "stopFirst", got "rolling""#), "\(text)")
        #expect(text.contains("groups[0].maxSurge: must be 1 or more, got 0"), "\(text)")
        #expect(text.contains("groups[0].watchdogSeconds: must be greater than 0, got -1"), "\(text)")
    }
}

@Test func aConfigPathThatIsAFIFOIsRefusedWithoutBlocking() throws {
    let scratch = try ScratchDirectory()
    let fifo = scratch.path + "/appd.json"
    #expect(mkfifo(fifo, 0o600) == 0)
    // No writer ever opens it: a blocking open would never return.
    #expect {
        _ = try ConfigLoader.load(path: fifo)
    } throws: { error in
        "\(error)".contains("cannot read: not a regular file")
    }
}

// MARK: Restart policies and start order

@Test func restartPolicyAndOrderFieldsAreReadAndCheckedWithTheirPaths() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse("""
        {groups: [
          {name: "db", command: ["db"], restart: "on-failure", successExitCodes: [0, 3], maxRestarts: 4, restartWindow: 30},
          {name: "migrate", command: ["migrate"], restart: "never", dependsOn: ["db"]},
          {name: "web", command: ["web"], dependsOn: ["db", "migrate"], autostart: false},
        ]}
        """, sourcePath: scratch.configPath)
    let db = try #require(config.group(named: "db"))
    #expect(db.restart == .onFailure && db.successExitCodes == [0, 3] && db.maxRestarts == 4 && db.restartWindow == 30)
    let web = try #require(config.group(named: "web"))
    #expect(web.dependsOn == ["db", "migrate"] && !web.autostart && web.restart == .always && web.maxRestarts == 10)

    #expect(problems(in: """
        {groups: [
          {name: "web", command: ["web"], restart: "sometimes", successExitCodes: [256], dependsOn: ["dbb", "web"]},
          {name: "db", command: ["db"]},
        ]}
        """, directory: scratch) == [
        #"groups[0].restart: must be "always" or "on-failure" or "never", got "sometimes""#,
        "groups[0].successExitCodes[0]: must be 255 or less, got 256",
        "groups[0].dependsOn[0]: no group named 'dbb' (did you mean 'db'?)",
        "groups[0].dependsOn[1]: a group cannot depend on itself",
    ])
}

@Test func aDependencyCycleIsRefusedNamingIt() throws {
    let scratch = try ScratchDirectory()
    let found = problems(in: """
        {groups: [
          {name: "a", command: ["a"], dependsOn: ["b"]},
          {name: "b", command: ["b"], dependsOn: ["c"]},
          {name: "c", command: ["c"], dependsOn: ["a"]},
          {name: "d", command: ["d"], dependsOn: ["a"]},
        ]}
        """, directory: scratch)
    #expect(found == ["groups[0].dependsOn[0]: dependsOn makes a cycle: a → b → c → a; none of them could start"], "\(found)")
}

@Test func metricsListenIsATCPAddressCheckedWithItsFieldPath() throws {
    let scratch = try ScratchDirectory()
    let config = try ConfigLoader.parse(
        #"{metrics: {listen: "tcp://127.0.0.1:9469"}, groups: [{name: "a", command: ["x"]}]}"#, sourcePath: scratch.configPath)
    #expect(config.metrics == MetricsSettings(listen: .tcp(host: "127.0.0.1", port: 9469)))
    #expect(try ConfigLoader.parse(#"{groups: [{name: "a", command: ["x"]}]}"#, sourcePath: scratch.configPath).metrics == nil)

    let cases: [(String, String)] = [
        (#"{listen: "unix:/tmp/m.sock"}"#, "metrics.listen: must be a tcp://HOST:PORT address (scrapers and probes speak HTTP over TCP), got 'unix:/tmp/m.sock'"),
        (#"{listen: "tcp://127.0.0.1:0"}"#, "metrics.listen: invalid listen address 'tcp://127.0.0.1:0': port must be 1-65535, got '0'"),
        (#"{listen: "tcp://127.0.0.1:70000"}"#, "metrics.listen: invalid listen address 'tcp://127.0.0.1:70000': port must be 1-65535, got '70000'"),
        (#"{listen: "http://127.0.0.1:9469"}"#, "metrics.listen: invalid listen address 'http://127.0.0.1:9469': expected tcp://HOST:PORT or unix:PATH"),
        (#"{}"#, "metrics.listen: is required"),
        (#"{listen: "tcp://127.0.0.1:9469", path: "/m"}"#, "metrics.path: unknown field 'path'"),
        (#""tcp://127.0.0.1:9469""#, #"metrics: must be an object, got string "tcp://127.0.0.1:9469""#),
    ]
    for (metrics, expected) in cases {
        #expect(problems(in: #"{metrics: \#(metrics), groups: [{name: "a", command: ["x"]}]}"#, directory: scratch) == [expected])
    }
    // A group cannot bind the address the metrics listener takes.
    #expect(problems(in: #"{metrics: {listen: "tcp://127.0.0.1:9469"}, groups: [{name: "a", command: ["x"], listen: ["tcp://127.0.0.1:9469"]}]}"#,
                     directory: scratch) == ["groups[0].listen[0]: 'tcp://127.0.0.1:9469' is already used at metrics.listen"])
}
