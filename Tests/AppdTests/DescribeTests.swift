import Foundation
import Testing
@testable import appctl
import Shared

/// `describe`: the settings in force with secrets masked, the file's
/// differences, the last reload; on the wire and for people.
@Suite struct DescribeTests {
    static let running = GroupConfig(
        name: "web", command: ["/srv/app/bin/web", "--title", "my app"], count: 4, listen: [.tcp(host: "127.0.0.1", port: 8080)],
        readiness: .notify, readyTimeout: 30, stopTimeout: 5,
        env: ["MODE": "prod", "API_KEY": "abc123", "db_password": "hunter2", "Github_Token": "t0k", "PATH": "/usr/bin"],
        cwd: "/srv/app", maxSurge: 2)

    @Test func secretLookingValuesAreMasked() {
        let settings = GroupSettings(Self.running)
        #expect(settings.env == ["MODE": "prod", "API_KEY": GroupSettings.mask, "db_password": GroupSettings.mask,
                                 "Github_Token": GroupSettings.mask, "PATH": "/usr/bin"])
        for name in ["AWS_SECRET_ACCESS_KEY", "SECRET", "x_token", "PGPASSWORD", "MYSQL_PASSWD", "apikey"] {
            #expect(GroupSettings.isSecret(name), "\(name)")
        }
        for name in ["MODE", "PATH", "HOME", "PORT"] { #expect(!GroupSettings.isSecret(name), "\(name)") }
        // Nothing secret crosses the socket, --json included.
        let line = String(decoding: ControlReply.item(id: 1, .groupDescription(GroupDescription(
            name: "web", config: settings, configFile: "/etc/appd.json", differences: []))).encodedLine(), as: UTF8.self)
        for secret in ["abc123", "hunter2", "t0k"] { #expect(!line.contains(secret), "\(line)") }
    }

    @Test func differencesAreWhatTheFileWouldChange() {
        var file = Self.running
        file.count = 8
        file.command = ["/srv/app/bin/web", "--title", "my app", "--fast"]
        file.env["MODE"] = "staging"
        file.env["API_KEY"] = "rotated"
        file.env["NEW_SECRET"] = "s"
        file.env["PATH"] = nil
        file.watchdogSeconds = 10
        file.readiness = .afterSeconds(2)
        let differences = GroupSettings.differences(running: Self.running, file: file)
        #expect(differences == [
            .init(field: "command", running: "/srv/app/bin/web --title 'my app'", file: "/srv/app/bin/web --title 'my app' --fast"),
            .init(field: "count", running: "4", file: "8"),
            .init(field: "readiness", running: "notify", file: "after 2s"),
            .init(field: "watchdogSeconds", running: nil, file: "10s"),
            .init(field: "env.API_KEY", running: GroupSettings.mask, file: GroupSettings.mask + " (changed)"),
            .init(field: "env.MODE", running: "prod", file: "staging"),
            .init(field: "env.NEW_SECRET", running: nil, file: GroupSettings.mask),
            .init(field: "env.PATH", running: "/usr/bin", file: nil),
        ])
        #expect(!differences.contains { ($0.running ?? "") + ($0.file ?? "") == "rotated" || $0.file == "s" })
        #expect(GroupSettings.differences(running: Self.running, file: Self.running).isEmpty)
    }

    @Test func theCommandAndItsItemRoundTrip() throws {
        #expect(try ControlCommand(name: "describe", members: ["group": "web"]) == .describe(group: "web"))
        #expect(try ControlCommand(name: "describe", members: [:]) == .describe(group: nil))
        #expect(ControlCommand.describe(group: "web").arguments == ["group": "web"])
        #expect(throws: ProtocolError.self) { try ControlCommand(name: "describe", members: ["grup": "web"]) }
        let description = GroupDescription(
            name: "web", config: GroupSettings(Self.running), configFile: "/etc/appd.json",
            differences: [.init(field: "count", running: "4", file: "8")],
            lastReload: .init(at: 1_700_000_000, outcome: .aborted, replaced: 1, reason: "web#1 was not ready within 30s"))
        let reply = ControlReply.item(id: 3, .groupDescription(description))
        #expect(try ControlReply(line: reply.encodedLine().dropLast()) == reply)
        let line = String(decoding: reply.encodedLine(), as: UTF8.self)
        #expect(line.contains(#""type":"groupDescription""#) && line.contains(#""readiness":"notify""#), "\(line)")
        let demo = ControlReply.item(id: 3, .groupDescription(GroupDescription(
            name: "web", config: GroupSettings(GroupConfig(name: "web", command: ["x"], count: 1)), configFile: nil,
            differences: nil, fileProblem: "no file")))
        let demoLine = String(decoding: demo.encodedLine(), as: UTF8.self)
        #expect(demoLine.contains(#""configFile":null"#) && demoLine.contains(#""differences":null"#)
            && demoLine.contains(#""lastReload":null"#) && demoLine.contains(#""readiness":{"afterSeconds":1}"#), "\(demoLine)")
        #expect(try ControlReply(line: demo.encodedLine().dropLast()) == demo)
    }

    @Test func forPeopleEachSettingHasItsLine() {
        let now = 1_700_000_100.0
        let description = GroupDescription(
            name: "web", config: GroupSettings(Self.running), configFile: "/etc/appd.json",
            differences: [.init(field: "count", running: "4", file: "8"), .init(field: "env.NEW", running: nil, file: "1")],
            lastReload: .init(at: now - 750, outcome: .completed, replaced: 4, notes: ["count 2 → 4 from the config"]))
        #expect(DescribeText.render(description, now: now) == """
            web
              command      /srv/app/bin/web --title 'my app'
              count        4
              cwd          /srv/app
              env          API_KEY=********
                           Github_Token=********
                           MODE=prod
                           PATH=/usr/bin
                           db_password=********
              envFile      -
              history      the last 2000 lines, at most 1.0 MiB
              limits       -
              listen       tcp://127.0.0.1:8080
              nice         -
              output       stdout and stderr → the daemon's log
                           at most 4.0 MiB/s of output per process, the rest dropped and counted
              readiness    notify: READY=1 within 30s
              reload       rolling, startFirst, maxSurge 2
              restart      always; at most 10 restarts after failures in 1m00s; success: exit 0
              rlimits      -
              start        at daemon start
              stop         SIGTERM, then SIGKILL after 5s
              umask        -
              user         -
              watchdog     -
              last reload  completed 12m30s ago: 4 processes replaced
                           note: count 2 → 4 from the config
              config file  /etc/appd.json: 2 differences, which `appctl reload web` applies:
                             count    4 → 8
                             env.NEW  (not set) → 1

            """)
        var parked = description
        parked.differences = []
        parked.lastReload = .init(at: now - 5, outcome: .aborted, replaced: 1, reason: "web#1 exited 3")
        let text = DescribeText.render(parked, now: now)
        #expect(text.contains("  last reload  aborted 5s ago after 1 process replaced: web#1 exited 3\n"), "\(text)")
        #expect(text.contains("  config file  /etc/appd.json: the same as what runs\n"), "\(text)")
        var demo = description
        demo.configFile = nil
        demo.differences = nil
        demo.fileProblem = "appd runs the embedded demo config: there is no file to compare with"
        demo.lastReload = nil
        #expect(DescribeText.render(demo, now: now).contains("""
              last reload  none since appd started
              config file  appd runs the embedded demo config: there is no file to compare with
            """))
    }

    /// A group running as another user, with limits and an env file: each
    /// setting shown and compared, the env file's values never.
    @Test func identityLimitsAndEnvFilesAreShownAndComparedButEnvFileValuesAreNot() throws {
        var running = Self.running
        running.identity = WorkerIdentity(user: "nobody", uid: 65534, gid: 65534, groups: [65534, 27])
        running.umask = 0o027
        running.nice = 5
        running.resourceLimits = [.nofile: ResourceLimit(soft: 1024, hard: 4096)]
        running.envFiles = [
            EnvironmentFile(path: "/srv/app.env", variables: ["DB_URL": "postgres://u:pw@db", "PORT": "80"]),
            EnvironmentFile(path: "/srv/local.env", isOptional: true, exists: false, variables: [:]),
        ]
        let settings = GroupSettings(running)
        #expect(settings.umask == "0027" && settings.nice == 5 && settings.rlimits == ["nofile": "1024/4096"])
        #expect(settings.identity?.description == "nobody (uid 65534), gid 65534, supplementary groups 27")
        #expect(settings.envFile?.map(\.variables) == [["DB_URL", "PORT"], []])
        let reply = ControlReply.item(id: 1, .groupDescription(GroupDescription(name: "web", config: settings, configFile: nil, differences: nil)))
        #expect(try ControlReply(line: reply.encodedLine().dropLast()) == reply)
        #expect(!String(decoding: reply.encodedLine(), as: UTF8.self).contains("pw@db"))

        var file = running
        file.identity = nil
        file.nice = nil
        file.resourceLimits[.core] = ResourceLimit(soft: 0, hard: 0)
        file.envFiles[0].variables["DB_URL"] = "postgres://u:new@db"
        #expect(GroupSettings.differences(running: running, file: file) == [
            .init(field: "user", running: "nobody (uid 65534), gid 65534, supplementary groups 27", file: nil),
            .init(field: "rlimits.core", running: nil, file: "0"),
            .init(field: "nice", running: "5", file: nil),
            .init(field: "envFile.DB_URL", running: GroupSettings.mask, file: GroupSettings.mask + " (changed)"),
        ])

        let text = DescribeText.render(GroupDescription(name: "web", config: settings, configFile: nil, differences: nil), now: 0)
        for line in [
            "  envFile      /srv/app.env: DB_URL PORT\n               -/srv/local.env: not there (optional), sets nothing\n",
            "  nice         5\n", "  rlimits      nofile 1024/4096\n", "  umask        0027\n",
            "  user         nobody (uid 65534), gid 65534, supplementary groups 27\n",
        ] {
            #expect(text.contains(line), "\(text)")
        }
    }

    /// Log files, history, limits and the start order: shown for people,
    /// sent with the config's names, and compared with the file.
    @Test func outputLimitsAndStartOrderAreShownAndCompared() throws {
        var running = Self.running
        running.log = LogFileConfig(path: "/srv/logs/web.log", maxBytes: 10 << 20, keep: 5)
        running.stderrLog = LogFileConfig(path: "/srv/logs/web.err", maxBytes: 0, keep: 0, format: .json)
        running.history = HistoryLimits(lines: 500, bytes: 256 << 10)
        running.outputBytesPerSecond = 0
        running.limits = CgroupLimits(maxMemory: 512 << 20, cpuMax: CPUQuota(quotaMicroseconds: 50_000, periodMicroseconds: 100_000))
        running.dependsOn = ["db", "cache"]
        running.autostart = false
        let text = DescribeText.render(GroupDescription(name: "web", config: GroupSettings(running), configFile: nil, differences: nil), now: 0)
        #expect(text.contains("""
              history      the last 500 lines, at most 256.0 KiB
              limits       maxMemory 512.0 MiB (appd restarts the worker above it)
                           cpuMax 50000/100000 (cgroup cpu.max)
            """), "\(text)")
        #expect(text.contains("""
              output       stdout → /srv/logs/web.log: rotated at 10.0 MiB, 5 kept, text
                           stderr → /srv/logs/web.err: not rotated by appd (appctl logs --reopen after an external rotation), json
                           no cap on a process's output
            """), "\(text)")
        #expect(text.contains("  start        only by `appctl start` (autostart false), after db, cache are ready\n"), "\(text)")

        let line = ControlReply.item(id: 1, .groupDescription(GroupDescription(name: "web", config: GroupSettings(running), configFile: nil,
                                                                                  differences: nil))).encodedLine()
        let json = String(decoding: line, as: UTF8.self)
        #expect(json.contains(#""log":{"file":"\/srv\/logs\/web.log","format":"text","keep":5,"maxBytes":10485760}"#)
            || json.contains(#""log":{"file":"/srv/logs/web.log","format":"text","keep":5,"maxBytes":10485760}"#), "\(json)")
        #expect(try ControlReply(line: line.dropLast()) == .item(id: 1, .groupDescription(GroupDescription(
            name: "web", config: GroupSettings(running), configFile: nil, differences: nil))))

        var file = running
        file.log?.keep = 10
        file.limits.maxMemory = nil
        file.autostart = true
        let differences = GroupSettings.differences(running: running, file: file)
        #expect(differences == [
            .init(field: "log", running: "/srv/logs/web.log: rotated at 10.0 MiB, 5 kept, text",
                  file: "/srv/logs/web.log: rotated at 10.0 MiB, 10 kept, text"),
            .init(field: "maxMemory", running: String(512 << 20), file: nil),
            .init(field: "autostart", running: "false", file: "true"),
        ])
    }
}
