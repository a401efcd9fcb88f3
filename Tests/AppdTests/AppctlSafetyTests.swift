import Foundation
import Glibc
import Synchronization
import Testing
@testable import appctl
import Shared

/// appctl against servers that are not the daemon it expects: sockets that
/// are not sockets or not its user's, servers that never answer or answer
/// without end. Each case ends with exit 3 and a message, never a hang.
@Suite struct AppctlSafetyTests {
    // MARK: - A server that misbehaves on purpose

    /// A unix socket server in a private directory whose connections are
    /// handled by `behaviour` on a thread; `stop()` (or deinit) shuts every
    /// connection down, which ends those threads.
    final class MisbehavingServer: @unchecked Sendable {
        let directory: String
        let path: String
        private let listener: Int32
        private let state = Mutex<(clients: [Int32], lines: [String], stopped: Bool)>(([], [], false))

        /// What a connection gets: its fd and a way to read the next request line.
        typealias Behaviour = @Sendable (_ client: Int32, _ readLine: () -> String?) -> Void

        init(_ behaviour: @escaping Behaviour) throws {
            var template = Array("/tmp/appctl-safety-XXXXXX".utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw POSIXError(.EIO) }
            directory = String(cString: made)
            path = directory + "/appd.sock"
            listener = try Self.listen(at: path)
            let listener = self.listener
            Thread { [self] in
                while true {
                    let client = accept(listener, nil, nil)
                    guard client >= 0 else { return }
                    let keep = state.withLock { state -> Bool in
                        if state.stopped { return false }
                        state.clients.append(client)
                        return true
                    }
                    guard keep else {
                        close(client)
                        return
                    }
                    Thread { [self] in
                        var pending: [UInt8] = []
                        behaviour(client) {
                            while true {
                                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                                    pending.removeFirst(newline + 1)
                                    state.withLock { $0.lines.append(line) }
                                    return line
                                }
                                var buffer = [UInt8](repeating: 0, count: 4096)
                                let count = read(client, &buffer, buffer.count)
                                guard count > 0 else { return nil }
                                pending += buffer[..<count]
                            }
                        }
                        // Forgotten before it is closed, so stop() never shuts down a reused fd.
                        state.withLock { $0.clients.removeAll { $0 == client } }
                        close(client)
                    }.start()
                }
            }.start()
        }

        /// Closed only here: the threads hold the server until they end.
        deinit { close(listener) }

        /// Request lines received so far, over all connections.
        var lines: [String] { state.withLock { $0.lines } }

        /// Ends every connection and the accepting thread, and removes the directory.
        func stop() {
            let clients = state.withLock { state -> [Int32]? in
                if state.stopped { return nil }
                state.stopped = true
                return state.clients
            }
            guard let clients else { return }
            for client in clients { shutdown(client, Int32(SHUT_RDWR)) }
            shutdown(listener, Int32(SHUT_RDWR))
            try? FileManager.default.removeItem(atPath: directory)
        }

        /// Waits (up to 5 s) until `count` request lines have arrived.
        func waitForLines(_ count: Int) -> [String] {
            let deadline = ControlConnection.now() + 5
            while lines.count < count, ControlConnection.now() < deadline { usleep(5_000) }
            return lines
        }

        static func listen(at path: String) throws -> Int32 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0, Glibc.listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
            return fd
        }
    }

    private final class Captured: TextSink, @unchecked Sendable {
        private let text = Mutex("")
        var value: String { text.withLock { $0 } }
        func write(_ more: String) { text.withLock { $0 += more } }
    }

    private struct Outcome {
        var exit: ExitCode
        var out: String
        var err: String
        var seconds: Double
    }

    private func run(_ line: String, against server: MisbehavingServer) throws -> Outcome {
        guard case .run(let command) = try CommandLineParser.parse(line.split(separator: " ").map(String.init)) else {
            throw UsageError("not a command")
        }
        let (out, err) = (Captured(), Captured())
        let started = ControlConnection.now()
        let exit = CommandRunner(console: Console(out: out, err: err)).run(command, socketPath: server.path)
        return Outcome(exit: exit, out: out.value, err: err.value, seconds: ControlConnection.now() - started)
    }

    // MARK: - --timeout

    @Test func timeoutIsReadBeforeOrAfterTheSubcommand() throws {
        guard case .run(let before) = try CommandLineParser.parse(["--timeout", "2.5", "status"]) else { Issue.record(); return }
        #expect(before.timeout == 2.5)
        guard case .run(let after) = try CommandLineParser.parse(["logs", "-f", "--timeout=30"]) else { Issue.record(); return }
        #expect(after.timeout == 30)
        guard case .run(let none) = try CommandLineParser.parse(["ping"]) else { Issue.record(); return }
        #expect(none.timeout == nil)
        for bad in [["--timeout", "0", "ping"], ["ping", "--timeout", "soon"], ["--timeout", "1", "ping", "--timeout", "2"],
                    ["ping", "--timeout", "100000"]] {
            #expect(throws: UsageError.self, "\(bad)") { try CommandLineParser.parse(bad) }
        }
        #expect(HelpText.help(for: .logs).contains("--timeout <seconds>"))
    }

    @Test func aServerThatAcceptsAndNeverAnswersIsGivenUpOnAtTheTimeout() throws {
        let server = try MisbehavingServer { _, readLine in while readLine() != nil {} }
        defer { server.stop() }
        for command in ["status --timeout 0.5", "ping --timeout 0.5", "stop --timeout 0.5"] {
            let outcome = try run(command, against: server)
            #expect(outcome.exit == .unreachable, "\(command)")
            #expect(outcome.err == "appctl: appd at \(server.path) did not answer within 0.5s (--timeout)\n", "\(command)")
            #expect(outcome.seconds >= 0.45 && outcome.seconds < 5, "\(command): \(outcome.seconds)s")
        }
    }

    @Test func aQuietStreamIsPingedAndGivenUpOnlyWhenThePingGoesUnanswered() throws {
        let silent = try MisbehavingServer { _, readLine in while readLine() != nil {} }
        defer { silent.stop() }
        let outcome = try run("logs --follow --timeout 0.3", against: silent)
        #expect(outcome.exit == .unreachable)
        #expect(outcome.err.contains("stopped answering: nothing for 0.3s, and no answer to a ping for 0.3s more (--timeout)"), "\(outcome.err)")
        #expect(outcome.seconds >= 0.55 && outcome.seconds < 5, "\(outcome.seconds)s")
        let received = silent.waitForLines(2)
        #expect(received.count == 2 && received.last == #"{"cmd":"ping","id":1000001}"#, "\(received)")

        // A live daemon answers the pings: a follow that is quiet for longer
        // than the timeout goes on, and ends when the stream does.
        let alive = try MisbehavingServer { client, readLine in
            var pings = 0
            while let line = readLine() {
                guard line.contains(#""cmd":"ping""#), let id = Int(line.split(separator: ":").last!.dropLast()) else { continue }
                sendAll(replyLine(.done(id: id, .pong)), to: client)
                pings += 1
                if pings == 3 { sendAll(replyLine(.done(id: 1, .logs(lines: 0))), to: client) }
            }
        }
        defer { alive.stop() }
        let quiet = try run("logs --follow --timeout 0.2", against: alive)
        #expect(quiet.exit == .success, "\(quiet.err)")
        #expect(quiet.seconds >= 0.55, "three quiet periods of 0.2s: \(quiet.seconds)s")
        #expect(alive.lines.filter { $0.contains("ping") }.count == 3)
    }

    @Test func aReplyLineWithoutEndIsCutOffAt4MiB() throws {
        let server = try MisbehavingServer { client, readLine in
            _ = readLine()
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
            for _ in 0..<6 { sendAll(chunk, to: client) }
            while readLine() != nil {}
        }
        defer { server.stop() }
        let outcome = try run("status", against: server)
        #expect(outcome.exit == .unreachable)
        #expect(outcome.err == "appctl: appd at \(server.path) sent a reply line longer than 4.0 MiB; appctl stops reading there\n")
    }

    @Test func whatAppctlHoldsBeforePrintingIsBounded() throws {
        let item = replyLine(.item(id: 1, .connection(ConnectionEntry(group: "web", id: 0, pid: 1, local: "127.0.0.1:1",
                                                                 remote: "127.0.0.1:2", state: "ESTABLISHED", sendQueue: 0, receiveQueue: 0))))
        let server = try MisbehavingServer { client, readLine in
            _ = readLine()
            for _ in 0..<200 { sendAll(item, to: client) }
            while readLine() != nil {}
        }
        defer { server.stop() }
        let connection = try ControlConnection(path: server.path, timeout: 5)
        connection.bufferLimit = 10_000
        try connection.send(ControlRequest(id: 1, command: .connections(group: nil)))
        let error = try #require(throws: TransportError.self) { _ = try connection.outcome(of: 1) { _ in } }
        #expect(error == .tooMuchToHold(path: server.path, limit: 10_000))
        #expect(error.description == "appd at \(server.path) sent more than 9.8 KiB for one answer; appctl stops reading there")
    }

    // MARK: - The socket itself

    @Test func aSymlinkOrAFileIsNotTalkedTo() throws {
        let server = try MisbehavingServer { client, readLine in
            while let _ = readLine() { sendAll(replyLine(.done(id: 1, .pong)), to: client) }
        }
        defer { server.stop() }
        #expect(try run("ping", against: server).exit == .success, "the real socket works")

        let link = server.directory + "/link.sock"
        try #require(symlink(server.path, link) == 0)
        var outcome = try runAt(link)
        #expect(outcome.exit == .unreachable)
        #expect(outcome.err == "appctl: cannot reach appd: \(link) is not a socket (it is a symlink; appctl does not follow one to the daemon's socket)\n")

        let file = server.directory + "/file.sock"
        FileManager.default.createFile(atPath: file, contents: Data())
        outcome = try runAt(file)
        #expect(outcome.err == "appctl: cannot reach appd: \(file) is not a socket (it is a regular file)\n")
        #expect(server.lines.count == 1, "only the real socket got a request")
    }

    @Test(.enabled(if: geteuid() == 0, "chown to another uid needs root"))
    func aSocketOfAnotherUserIsNotTalkedTo() throws {
        let server = try MisbehavingServer { client, readLine in
            while let _ = readLine() { sendAll(replyLine(.done(id: 1, .pong)), to: client) }
        }
        defer { server.stop() }
        try #require(chown(server.path, 65534, 65534) == 0)
        let outcome = try runAt(server.path)
        #expect(outcome.exit == .unreachable)
        #expect(outcome.err == "appctl: cannot reach appd: \(server.path) is owned by uid 65534, not by you or root; "
            + "appctl talks only to a socket of its own user or root (another user may have put this one there)\n")
        #expect(server.lines.isEmpty, "nothing was sent")
    }

    /// A listener that runs as uid 65534 behind a socket file chowned to
    /// root: the owner check passes, SO_PEERCRED does not.
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs root, setpriv and python3"))
    func aListenerOfAnotherUserIsNotTalkedToEvenBehindARootSocketFile() throws {
        var template = Array("/tmp/appctl-peer-XXXXXX".utf8CString)
        let directory = String(cString: try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #require(chown(directory, 65534, 65534) == 0)
        let path = directory + "/appd.sock"
        let script = "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4); print('up', flush=True); time.sleep(60)"
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        listener.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, path]
        let output = Pipe()
        listener.standardOutput = output
        try listener.run()
        defer {
            kill(listener.processIdentifier, SIGKILL)
            listener.waitUntilExit()
        }
        var said = Data()
        while !said.contains(UInt8(ascii: "\n")) {
            let more = output.fileHandleForReading.availableData  // blocks until some output, empty at its end
            if more.isEmpty { break }
            said += more
        }
        try #require(String(decoding: said, as: UTF8.self) == "up\n", "the listener as uid 65534 did not start")
        try #require(chown(path, 0, 0) == 0)
        let outcome = try runAt(path)
        #expect(outcome.exit == .unreachable)
        #expect(outcome.err == "appctl: cannot reach appd: the process listening at \(path) runs as uid 65534, not as you or root; appctl does not talk to it\n")
    }

    private func runAt(_ path: String) throws -> Outcome {
        let (out, err) = (Captured(), Captured())
        let exit = CommandRunner(console: Console(out: out, err: err)).run(CtlCommand(request: .ping), socketPath: path)
        return Outcome(exit: exit, out: out.value, err: err.value, seconds: 0)
    }
}

private func replyLine(_ reply: ControlReply) -> [UInt8] { reply.encodedLine() }

/// Writes all of `bytes` (or as much as the peer takes before it goes away).
private func sendAll(_ bytes: [UInt8], to fd: Int32) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard written > 0 else { return }
        offset += written
    }
}
