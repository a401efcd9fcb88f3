import Foundation
import Testing
@testable import appctl
import Shared

// MARK: - Command line

private func parse(_ line: String) throws(UsageError) -> ParsedCommandLine {
    try CommandLineParser.parse(line.split(separator: " ").map(String.init))
}

private func run(_ line: String) -> CtlCommand? {
    if case .run(let command) = try? parse(line) { return command }
    return nil
}

private func usageError(_ line: String) -> UsageError? {
    do {
        _ = try parse(line)
        return nil
    } catch {
        return error
    }
}

@Test func parsesEverySubcommand() {
    #expect(run("ping")?.request == .ping)
    #expect(run("version --json") == CtlCommand(request: .version, json: true))
    #expect(run("status")?.request == .status(group: nil, watch: nil))
    #expect(run("status web")?.request == .status(group: "web", watch: nil))
    #expect(run("status --group web --json") == CtlCommand(request: .status(group: "web", watch: nil), json: true))
    #expect(run("status -g web --watch")?.request == .status(group: "web", watch: 2))
    #expect(run("status --watch 0.5 web")?.request == .status(group: "web", watch: 0.5))
    #expect(run("status --watch=1")?.request == .status(group: nil, watch: 1))
    #expect(run("connections web")?.request == .connections(group: "web"))
    #expect(run("reload")?.request == .reload(group: nil))
    #expect(run("reload --group=web")?.request == .reload(group: "web"))
    #expect(run("restart queue")?.request == .restart(group: "queue"))
    #expect(run("stop")?.request == .stop(group: nil))
    #expect(run("stop web")?.request == .stop(group: "web"))
    #expect(run("start web")?.request == .start(group: "web"))
    #expect(run("start --group web")?.request == .start(group: "web"))
    #expect(run("scale web 3")?.request == .scale(group: "web", count: 3))
    #expect(run("scale --group web 0")?.request == .scale(group: "web", count: 0))
    #expect(run("signal HUP")?.request == .signal(group: nil, .hangup))
    #expect(run("signal web usr1")?.request == .signal(group: "web", .user1))
    #expect(run("signal -g web -9")?.request == .signal(group: "web", .kill))
    #expect(run("logs")?.request == .logs(LogFilter(), follow: false, lines: 100))
    #expect(run("logs web -f -n 20")?.request == .logs(LogFilter(group: "web"), follow: true, lines: 20))
    #expect(run("logs --follow --lines=5 --json") == CtlCommand(request: .logs(LogFilter(), follow: true, lines: 5), json: true))
    #expect(run("logs crasher --id 1 --stream stderr")?.request == .logs(LogFilter(group: "crasher", id: 1, stream: .stderr), follow: false, lines: 100))
    #expect(run("logs --reopen")?.request == .reopenLogs)
}

@Test func socketAndConfigMayComeBeforeOrAfterTheSubcommand() {
    #expect(run("--socket /run/a.sock status")?.socket == .path("/run/a.sock"))
    #expect(run("status --socket /run/a.sock")?.socket == .path("/run/a.sock"))
    #expect(run("-c etc/appd.json ping")?.socket == .config("etc/appd.json"))
    #expect(run("ping")?.socket == .automatic)
    #expect(usageError("--socket /a ping --config b.json")?.message
        == "give the socket once: with either --socket <path> or --config <file>")
}

@Test func usageErrorsSayWhatIsWrongAndSuggestTheFix() {
    let option = usageError("status --grp web")
    #expect(option == UsageError("unknown option '--grp'; did you mean '--group'?", subcommand: "status"))
    #expect(option?.rendered == """
        error: unknown option '--grp'; did you mean '--group'?
        Usage: appctl status [<group>] [--wide] [--json] [--watch [<seconds>]]
          See 'appctl status --help' for more information.

        """)
    #expect(usageError("stauts")?.message == "unknown subcommand 'stauts'; did you mean 'status'?")
    #expect(usageError("frobnicate")?.message == "unknown subcommand 'frobnicate'")
    #expect(usageError("")?.message.hasPrefix("missing subcommand") == true)
    #expect(usageError("scale web")?.message == "expected <group> <count>, got 'web'")
    #expect(usageError("scale web -1")?.message == "invalid value '-1' for '<count>': expected a non-negative integer")
    #expect(usageError("scale web 3 4")?.message == "unexpected argument '4'")
    #expect(usageError("start")?.message == "expected <group>, got nothing")
    #expect(usageError("status web --group api")?.message == "the group is given twice: 'web' and '--group api'")
    #expect(usageError("signal web BOGUS")?.message.hasPrefix("unknown signal 'BOGUS'") == true)
    #expect(usageError("status --group")?.message == "missing value for '--group <group>'")
    #expect(usageError("status --json --json")?.message == "option '--json' given more than once")
    #expect(usageError("status --watch 0")?.message.contains("at least 0.1") == true)
    #expect(usageError("ping now")?.message == "unexpected argument 'now'")
    #expect(usageError("logs --lines many")?.subcommand == "logs")
    #expect(usageError("logs --id 0")?.message == "--id needs a group: a worker id is one of a group's")
    #expect(usageError("logs web --stream out")?.message == "invalid value 'out' for '--stream <stream>': expected stdout, stderr, appd")
    #expect(usageError("logs --reopen -n 5")?.message == "--reopen reopens every log file: it takes no group and no other option, got '--lines <n>'")
    #expect(usageError("logs web --reopen")?.message == "--reopen reopens every log file: it takes no group and no other option, got 'web'")
}

@Test func everySubcommandHasHelpWithAnOverviewOptionsAndAnExample() throws {
    for subcommand in Subcommand.all {
        for line in ["\(subcommand.name) --help", "\(subcommand.name) -h", "help \(subcommand.name)"] {
            guard case .help(let text) = try parse(line) else {
                Issue.record("\(line) gives no help")
                continue
            }
            #expect(text.hasPrefix("OVERVIEW: "))
            #expect(text.split(separator: "\n").prefix(3).joined(separator: " ").contains(subcommand.abstract))
            #expect(text.contains("USAGE: appctl \(subcommand.name)"))
            #expect(text.contains("OPTIONS:\n"))
            #expect(text.contains("  -h, --help"))
            #expect(text.contains("EXAMPLES:\n"))
            #expect(text.contains("    appctl \(subcommand.name)"))
            #expect(text.split(separator: "\n").allSatisfy { $0.count <= HelpText.width || $0.hasPrefix("    appctl") })
        }
    }
    guard case .help(let tool) = try parse("--help") else {
        Issue.record("no tool help")
        return
    }
    for subcommand in Subcommand.all { #expect(tool.contains("\n  \(subcommand.name) ")) }
    #expect(tool.contains("EXIT STATUS:"))
    #expect(try parse("--version") == .version)
}

// MARK: - Socket resolution

private func locator(env: [String: String] = [:], implicitConfigExists: Bool = false,
                     configs: [String: String] = [:]) -> SocketLocator {
    SocketLocator(
        environment: { env[$0] },
        fileExists: { $0 == SocketLocator.implicitConfig && implicitConfigExists },
        loadConfig: { path throws(ConfigError) in
            guard let socket = configs[path] else {
                throw ConfigError(problems: [ConfigProblem(file: path, fieldPath: "", message: "cannot read")])
            }
            return DaemonConfig(sourcePath: path, controlSocket: socket, pidFile: "p", statusFile: "s", daemonLog: .standardError,
                                stopTimeout: 2, groups: [])
        },
        defaultSockets: { ["/default/appd.sock"] }
    )
}

@Test func socketFlagBeatsEnvironmentBeatsConfigBeatsDefault() throws {
    let env = ["APPCTL_SOCKET": "/env/appd.sock"]
    let configs = ["etc/appd.json": "/config/appd.sock", "appd.json": "/implicit/appd.sock"]
    #expect(try locator(env: env, configs: configs).socketPath(for: .path("/flag/appd.sock")) == "/flag/appd.sock")
    #expect(try locator(env: env, configs: configs).socketPath(for: .config("etc/appd.json")) == "/env/appd.sock")
    #expect(try locator(env: env, implicitConfigExists: true, configs: configs).socketPath(for: .automatic) == "/env/appd.sock")
    #expect(try locator(configs: configs).socketPath(for: .config("etc/appd.json")) == "/config/appd.sock")
    #expect(try locator(implicitConfigExists: true, configs: configs).socketPath(for: .automatic) == "/implicit/appd.sock")
    #expect(try locator(configs: configs).socketPath(for: .automatic) == "/default/appd.sock")
    #expect(try locator(env: ["APPCTL_SOCKET": ""]).socketPath(for: .automatic) == "/default/appd.sock")
    #expect(throws: SocketLookupError.self) { try locator().socketPath(for: .config("missing.json")) }
}

@Test func configSocketIsResolvedRelativeToTheConfigFile() throws {
    let directory = try SocketDirectory()
    let config = directory.path + "/appd.json"
    try #"{controlSocket: "run/appd.sock", groups: [{name: "a", command: ["true"]}]}"#
        .write(toFile: config, atomically: true, encoding: .utf8)
    let real = SocketLocator(environment: { _ in nil }, fileExists: { _ in false })
    #expect(try real.socketPath(for: .config(config)) == directory.path + "/run/appd.sock")
}

// MARK: - Rendering

private let now = 1_700_000_100.0

private let fixture = StatusReport(
    master: MasterStatus(
        pid: 4242, startedAt: now - 11_520, uptime: 11_520, loadAverage: [0.12, 0.3, 1.25], groups: 2, processes: 3,
        rss: 13_000_000,
        groupSummaries: [
            GroupSummary(name: "web", count: 2, running: 2, reloadable: true, state: .running,
                         listen: ["tcp://127.0.0.1:8080"], exits: [.init(.exited(code: 3), count: 2)]),
            GroupSummary(name: "queue", count: 2, running: 1, reloadable: false, state: .running, listen: [], exits: []),
        ]),
    processes: [
        ProcessStatus(group: "web", id: 0, pid: 4711, state: .running, uptime: 192, restarts: 0, lastExit: nil,
                      rss: 14_889_779, cpu: 1.25, fds: 12, tcp: ["established": 3]),
        ProcessStatus(group: "web", id: 1, pid: 4712, state: .running, uptime: 8.5, restarts: 2,
                      lastExit: .init(.exited(code: 3), at: now - 12, uptime: 4), rss: 1_048_576, cpu: 0, fds: 9,
                      tcp: ["established": 0]),
        ProcessStatus(group: "queue", id: 0, pid: 4713, state: .running, uptime: 11_500, restarts: 0, lastExit: nil),
        ProcessStatus(group: "queue", id: 1, pid: nil, state: .backoff, uptime: nil, restarts: 7,
                      lastExit: .init(.killed(signal: .kill), at: now - 3, uptime: 0.5), backoffRemaining: 1.5),
    ]
)

@Test func statusTableIsAlignedWithUnitsPeopleRead() {
    // The wide layout (`--wide`, and the status file): every column.
    #expect(StatusTable.render(fixture, now: now) == """
        appd 0.1.0  pid 4242  up 3h12m  load 0.12 0.30 1.25  groups 2  processes 3  mem 12.4 MiB

        GROUP  ID  PID   STATE       UPTIME  RESTARTS  CPU   MEM       FDS  CONNS  LAST EXIT
        web    0   4711  running     3m12s   0         1.3%  14.2 MiB  12   3      -
        web    1   4712  running     8s      2         0.0%  1.0 MiB   9    0      exited 3 after 4s, 12s ago
        queue  0   4713  running     3h11m   0         -     -         -    -      -
        queue  1   -     backoff 1s  -       7         -     -         -    -      killed by SIGKILL after <1s, 3s ago

        GROUP  STATE    READY  RELOAD   LISTEN                FAILED EXITS
        web    running  2/2    rolling  tcp://127.0.0.1:8080  exited 3 ×2
        queue  running  1/2    SIGUSR1  -                     -

        """)
    // appctl status: what matters, within 100 columns.
    #expect(StatusTable.render(fixture, now: now, layout: .standard) == """
        appd 0.1.0  pid 4242  up 3h12m  load 0.12 0.30 1.25  groups 2  processes 3  mem 12.4 MiB

        GROUP  ID  PID   STATE       UPTIME  RESTARTS  CPU   MEM       LAST EXIT
        web    0   4711  running     3m12s   0         1.3%  14.2 MiB  -
        web    1   4712  running     8s      2         0.0%  1.0 MiB   exited 3, 12s ago
        queue  0   4713  running     3h11m   0         -     -         -
        queue  1   -     backoff 1s  -       7         -     -         killed by SIGKILL, 3s ago

        GROUP  STATE    READY  RELOAD   LISTEN                FAILED EXITS
        web    running  2/2    rolling  tcp://127.0.0.1:8080  exited 3 ×2
        queue  running  1/2    SIGUSR1  -                     -

        """)
}

@Test func statusTableLeavesOutFiguresNobodyCollected() {
    let bare = StatusReport(master: nil, processes: [
        ProcessStatus(group: "web", id: 0, pid: 1, state: .starting, uptime: 0.25, restarts: 0, lastExit: nil,
                      statusText: "warming up"),
    ])
    #expect(StatusTable.render(bare, now: now) == """
        GROUP  ID  PID  STATE     UPTIME  RESTARTS  LAST EXIT  STATUS
        web    0   1    starting  <1s     0         -          warming up

        """)
    #expect(StatusTable.render(StatusReport(), now: now) == "no processes\n")
}

@Test func reloadProgressReadsAsItStreams() {
    #expect(ReloadProgressText.line(ProcessReplaced(group: "web", id: 0, oldPid: 4711, newPid: 4790)) == "web#0[4711] → web#0[4790]")
    #expect(ReloadProgressText.line(ProcessReplaced(group: "web", id: 1, oldPid: nil, newPid: 4791)) == "web#1 not running → web#1[4791]")
    #expect(ReloadProgressText.line(GroupReloaded(group: "web", outcome: .completed, replaced: 0, started: 1, notes: ["count 4 → 1 from the config"]))
        == "web: reloaded, 0 processes replaced, 1 slot that was not running started\n  note: count 4 → 1 from the config")
    #expect(ReloadProgressText.line(GroupReloaded(group: "web", outcome: .completed, replaced: 4))
        == "web: reloaded, 4 processes replaced")
    #expect(ReloadProgressText.line(GroupReloaded(group: "q", outcome: .signalled, replaced: 0, signalled: 1))
        == "q: not reloadable, sent SIGUSR1 to 1 process")
    #expect(ReloadProgressText.line(GroupReloaded(group: "web", outcome: .aborted, replaced: 1, reason: "web#1 not ready"))
        == "web: reload aborted after 1 process replaced: web#1 not ready")
}

@Test func watchFramesOverwriteInPlaceInOneWrite() {
    let sink = CapturedText()
    let screen = WatchScreen(sink: sink, redrawsInPlace: true)
    screen.draw("a\nb\n")
    #expect(sink.writes == ["\u{1B}[Ha\u{1B}[K\nb\u{1B}[K\n\u{1B}[J"])
    let plain = CapturedText()
    WatchScreen(sink: plain, redrawsInPlace: false).draw("a\n")
    #expect(plain.text == "a\n\n")
}

// MARK: - Against a fake daemon

/// A daemon stand-in on a real unix socket: accepts one connection, records
/// the request line, answers with canned lines, and closes.
private final class FakeDaemon: @unchecked Sendable {
    let directory: SocketDirectory
    let path: String
    private let listener: Int32
    private let lock = NSLock()
    private var received: String?

    init(replies: [String]) throws {
        directory = try SocketDirectory()
        path = directory.path + "/appd.sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 4) == 0 else { throw POSIXError(.EADDRINUSE) }
        let payload = replies.map { $0 + "\n" }.joined()
        Thread { [self] in serve(payload) }.start()
    }

    deinit { close(listener) }

    /// The request line appctl sent, once it has arrived.
    var request: String? {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    private func serve(_ payload: String) {
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        defer { close(client) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(client, &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        lock.lock()
        received = String(decoding: line, as: UTF8.self)
        lock.unlock()
        _ = payload.withCString { write(client, $0, strlen($0)) }
    }
}

private final class CapturedText: TextSink, @unchecked Sendable {
    private(set) var writes: [String] = []
    var text: String { writes.joined() }
    func write(_ text: String) { writes.append(text) }
}

private final class SocketDirectory: @unchecked Sendable {
    let path: String

    init() throws {
        // Short, under /tmp: a unix socket path holds at most 107 bytes.
        path = "/tmp/appctl-tests-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private struct Transcript {
    var exit: ExitCode
    var out: String
    var err: String
}

private func runAgainst(_ daemon: FakeDaemon, _ line: String) throws -> Transcript {
    guard case .run(let command) = try parse(line) else { throw UsageError("not a command") }
    let out = CapturedText()
    let err = CapturedText()
    let exit = CommandRunner(console: Console(out: out, err: err), wallClock: { now }).run(command, socketPath: daemon.path)
    return Transcript(exit: exit, out: out.text, err: err.text)
}

private func item(_ item: ControlItem, id: Int = 1) -> String {
    String(decoding: ControlReply.item(id: id, item).encodedLine().dropLast(), as: UTF8.self)
}

private func done(_ result: ControlResult, id: Int = 1) -> String {
    String(decoding: ControlReply.done(id: id, result).encodedLine().dropLast(), as: UTF8.self)
}

@Test func statusSendsItsRequestAndPrintsTheTable() throws {
    let daemon = try FakeDaemon(replies: [item(.master(fixture.master!))] + fixture.processes.map { item(.process($0)) }
        + [done(.status(processes: 4))])
    let transcript = try runAgainst(daemon, "status web")
    #expect(daemon.request == #"{"cmd":"status","group":"web","id":1}"#)
    #expect(transcript.exit == .success)
    #expect(transcript.out == StatusTable.render(fixture, now: now, layout: .standard))
    #expect(transcript.err == "")
}

@Test func statusJSONIsOneDocumentWithRawNumbers() throws {
    let daemon = try FakeDaemon(replies: [item(.master(fixture.master!)), item(.process(fixture.processes[0])),
                                          done(.status(processes: 1))])
    let transcript = try runAgainst(daemon, "status --json")
    let document = try JSONValue(parsing: Array(transcript.out.utf8))
    #expect(transcript.out.filter { $0 == "\n" }.count == 1)
    #expect(document["master"]?["pid"] == 4242)
    #expect(document["processes"] == [["cpu": 1.25, "fds": 12, "group": "web", "id": 0, "lastExit": nil, "pid": 4711,
                                       "restarts": 0, "rss": 14_889_779, "state": "running", "tcp": ["established": 3],
                                       "uptime": 192]])
}

@Test func watchPrintsEachSnapshotAsItEnds() throws {
    let snapshot = [item(.master(fixture.master!)), item(.process(fixture.processes[0])), item(.snapshotEnd(SnapshotEnd(processes: 1)))]
    let daemon = try FakeDaemon(replies: snapshot + snapshot)
    let transcript = try runAgainst(daemon, "status --watch 1 --json")
    #expect(daemon.request == #"{"cmd":"status","id":1,"watch":1}"#)
    let documents = transcript.out.split(separator: "\n")
    #expect(documents.count == 2)
    for document in documents {
        let value = try JSONValue(parsing: Array(document.utf8))
        #expect(value["master"]?["pid"] == 4242)
        #expect(value["processes"]?.arrayValue?.count == 1)
    }
    // The daemon went away mid-watch: that is a lost connection.
    #expect(transcript.exit == .unreachable)
    #expect(transcript.err.contains("closed the connection"))
}

@Test func reloadStreamsProgressAndFailsWhenAborted() throws {
    let daemon = try FakeDaemon(replies: [
        item(.replaced(ProcessReplaced(group: "web", id: 0, oldPid: 4711, newPid: 4790))),
        item(.reloaded(GroupReloaded(group: "web", outcome: .aborted, replaced: 1, reason: "web#1 was not ready within 30s"))),
        String(decoding: ControlReply.error(id: 1, ProtocolError(.reloadAborted, "web: web#1 was not ready within 30s"))
            .encodedLine().dropLast(), as: UTF8.self),
    ])
    let transcript = try runAgainst(daemon, "reload")
    #expect(transcript.out == """
        web#0[4711] → web#0[4790]
        web: reload aborted after 1 process replaced: web#1 was not ready within 30s

        """)
    #expect(transcript.err == "appctl: web: web#1 was not ready within 30s (reload_aborted)\n")
    #expect(transcript.exit == .commandFailed)
}

@Test func anErrorReplyExitsOneAndForbiddenExitsThree() throws {
    let unknown = try FakeDaemon(replies: [#"{"id":1,"ok":false,"done":true,"error":{"code":"unknown_group","message":"no group named 'wbe'"}}"#])
    let failed = try runAgainst(unknown, "stop wbe")
    #expect(failed.exit == .commandFailed)
    #expect(failed.err == "appctl: no group named 'wbe' (unknown_group)\n")

    let forbidden = try FakeDaemon(replies: [#"{"id":null,"ok":false,"done":true,"error":{"code":"forbidden","message":"uid 1000 may not use this socket"}}"#])
    let refused = try runAgainst(forbidden, "ping")
    #expect(refused.exit == .unreachable)
    #expect(refused.err == "appctl: cannot reach appd at \(forbidden.path): uid 1000 may not use this socket\n")
}

@Test func simpleCommandsPrintOneLine() throws {
    let scale = try FakeDaemon(replies: [done(.scaled(group: "web", count: 3))])
    #expect(try runAgainst(scale, "scale web 3").out == "scaled group web to 3 processes\n")
    #expect(scale.request == #"{"cmd":"scale","count":3,"group":"web","id":1}"#)
    let signal = try FakeDaemon(replies: [done(.signalled(processes: 2))])
    #expect(try runAgainst(signal, "signal web HUP").out == "sent SIGHUP to 2 processes of group web\n")
    let stop = try FakeDaemon(replies: [done(.daemonStopping)])
    #expect(try runAgainst(stop, "stop --json").out == #"{"stopping":true}"# + "\n")
}

@Test func logsStreamLinesInOrder() throws {
    let entries = (0..<3).map { LogEntry(time: now, group: "web", id: 0, pid: 7, stream: .stdout, line: "line \($0)") }
    let daemon = try FakeDaemon(replies: entries.map { item(.log($0)) } + [done(.logs(lines: 3))])
    let transcript = try runAgainst(daemon, "logs web -n 3")
    #expect(daemon.request == #"{"cmd":"logs","group":"web","id":1,"lines":3}"#)
    let lines = transcript.out.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines.last == "\(UTCTimestamp.text(now)) web#0[7] stdout: line 2")
}

@Test func aDaemonThatHangsUpBeforeAnsweringIsUnreachable() throws {
    let daemon = try FakeDaemon(replies: [])
    let transcript = try runAgainst(daemon, "ping")
    #expect(transcript.exit == .unreachable)
    #expect(transcript.err == "appctl: appd at \(daemon.path) closed the connection before answering (did it stop?)\n")
}

// MARK: - The built binary

/// `appctl` as built next to the test runner (both land in the build
/// products directory).
private func appctlExecutable() throws -> String {
    let runner = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: runner).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("appctl").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    throw POSIXError(.ENOENT)
}

private func runBinary(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try appctlExecutable())
    process.arguments = arguments
    process.environment = environment
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

@Test func binaryExitsThreeNamingTheSocketWhenNoDaemonListens() throws {
    let directory = try SocketDirectory()
    let missing = try runBinary(["--socket", directory.path + "/appd.sock", "status"])
    #expect(missing.status == 3)
    #expect(missing.err == "appctl: cannot reach appd at \(directory.path)/appd.sock: no such file (is appd running?)\n")

    // A socket file nobody listens on: what a crashed daemon leaves behind.
    let stale = directory.path + "/stale.sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(stale.utf8) + [0]) }
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    close(fd)
    let refused = try runBinary(["status"], environment: ["APPCTL_SOCKET": stale])
    #expect(refused.status == 3)
    #expect(refused.err.hasSuffix("\(stale): connection refused (stale socket?)\n"))
}

@Test func binaryExitsTwoOnUsageErrors() throws {
    let result = try runBinary(["status", "--grp", "web"])
    #expect(result.status == 2)
    #expect(result.err.hasPrefix("error: unknown option '--grp'; did you mean '--group'?\n"))
}

// MARK: - docs/PROTOCOL.md

/// The Python client printed in docs/PROTOCOL.md, run as written against a
/// socket speaking the documented format: the doc is enough to write a client.
@Test func documentedPythonClientWorks() throws {
    let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/PROTOCOL.md")
    let text = try String(contentsOf: doc, encoding: .utf8)
    guard let start = text.range(of: "```python\n"), let end = text.range(of: "```", range: start.upperBound..<text.endIndex)
    else {
        Issue.record("docs/PROTOCOL.md has no python block")
        return
    }
    let client = String(text[start.upperBound..<end.lowerBound])
    #expect(client.split(separator: "\n").count <= 25)

    let daemon = try FakeDaemon(replies: [item(.process(fixture.processes[0])), done(.status(processes: 1))])
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", client, daemon.path, "status", #"{"group": "web"}"#]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    #expect(try JSONValue(parsing: Array((daemon.request ?? "").utf8)) == ["cmd": "status", "group": "web", "id": 1])
    #expect(printed.contains("'pid': 4711"))
    #expect(printed.hasSuffix("{'processes': 1}\n"))
}

@Test func statusJSONDocumentWrittenByHandMatchesTheEncoder() {
    #expect(JSONDocuments.statusLine(fixture) == JSONDocuments.line(JSONDocuments.Status(fixture)))
    let bare = StatusReport(master: nil, processes: [
        ProcessStatus(group: "q", id: 0, pid: nil, state: .stopped, uptime: nil, restarts: 0, lastExit: nil),
    ])
    #expect(JSONDocuments.statusLine(bare) == JSONDocuments.line(JSONDocuments.Status(bare)))
}

@Test func withoutAConfigAppctlTriesTheDefaultSocketPathsInOrderAndSaysWhichItTook() throws {
    let candidates = RuntimePaths.candidateControlSockets(environment: ["XDG_RUNTIME_DIR": "/run/user/0"], userID: 0,
                                                          runIsWritable: { true })
    #expect(candidates == ["/run/user/0/appd/appd.sock", "/run/appd/appd.sock", "/tmp/appd-0/appd.sock"])
    #expect(RuntimePaths.candidateControlSockets(environment: [:], userID: 1000) == ["/tmp/appd-1000/appd.sock"])

    var notes: [String] = []
    var locator = SocketLocator(environment: { _ in nil }, fileExists: { _ in false })
    locator.defaultSockets = { candidates }
    locator.warn = { notes.append($0) }
    // A daemon started by an init script (no XDG_RUNTIME_DIR) is found from an SSH root shell.
    locator.isSocket = { $0 == "/run/appd/appd.sock" }
    #expect(try locator.socketPath(for: .automatic) == "/run/appd/appd.sock")
    #expect(notes == ["appctl: no socket at /run/user/0/appd/appd.sock; using the one at /run/appd/appd.sock\n"])
    notes = []
    locator.isSocket = { _ in false }
    #expect(try locator.socketPath(for: .automatic) == "/run/user/0/appd/appd.sock")
    #expect(notes.first?.contains("no appd socket at the default paths: /run/user/0/appd/appd.sock, /run/appd/appd.sock, /tmp/appd-0/appd.sock") == true)
}
