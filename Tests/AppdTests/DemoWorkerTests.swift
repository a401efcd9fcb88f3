import Foundation
import Glibc
import Synchronization
import Testing
@testable import demo_worker

/// The demo worker's own contract, which appd's tests and benchmarks lean
/// on: its command line, its notifications (batched, retried while the
/// master's queue is full), its watchdog pings, and, as a real process
/// started the way appd starts it, the web worker's slow boot, its own-port
/// mode and its keep-alive drain on SIGTERM.
@Suite("demo-worker", .timeLimit(.minutes(1)))
struct DemoWorkerTests {
    // MARK: Command line

    @Test("web, hang and the other modes parse their options, defaults included")
    func modesParse() throws {
        #expect(try Mode.parse(["web"]).get() == .web(Mode.WebOptions()))
        #expect(try Mode.parse(["web", "--port", "8080", "--boot-delay", "2.5"]).get()
            == .web(Mode.WebOptions(bootDelay: Seconds(2.5), ownPort: 8080)))
        #expect(try Mode.parse(["web", "--boot-delay", "0"]).get() == .web(Mode.WebOptions()))
        #expect(try Mode.parse(["hang"]).get() == .hang(after: Seconds(1)))
        #expect(try Mode.parse(["hang", "--after", "0"]).get() == .hang(after: Seconds(0)))
        #expect(try Mode.parse(["queue"]).get() == .queue(interval: Seconds(2)))
        #expect(try Mode.parse(["crash", "--after", "0.5"]).get() == .crash(after: Seconds(0.5)))
    }

    @Test("a bad command line gets one precise line")
    func badCommandLinesAreNamed() {
        let cases: [([String], String)] = [
            ([], "no mode given"),
            (["serve"], "unknown mode 'serve'"),
            (["web", "8080"], "unexpected argument '8080' (web accepts --boot-delay SECONDS, --port N)"),
            (["web", "--port"], "--port needs a value: --port N"),
            (["web", "--port", "0"], "--port needs a TCP port from 1 to 65535, got '0'"),
            (["web", "--port", "65536"], "--port needs a TCP port from 1 to 65535, got '65536'"),
            (["web", "--port", "80", "--port", "81"], "--port is given twice"),
            (["web", "--boot-delay", "-1"], "--boot-delay needs a number of seconds from 0, up to 86400, got '-1'"),
            (["hang", "--after", "soon"], "--after needs a number of seconds from 0, up to 86400, got 'soon'"),
            (["queue", "--after", "1"], "unexpected argument '--after' (queue accepts --interval SECONDS)"),
            (["cpu", "--fast"], "unexpected argument '--fast' (cpu takes no options)"),
        ]
        for (arguments, message) in cases {
            #expect(throws: Mode.ParseError.self, "\(arguments)") { try Mode.parse(arguments).get() }
            if case .failure(let error) = Mode.parse(arguments) {
                #expect(error.description == message, "\(arguments)")
            }
        }
    }

    // MARK: Notifications

    @Test("one send is one datagram: the assignments joined by newlines")
    func assignmentsGoInOneDatagram() throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let master = try NotifySocket(path: directory.file("notify"))
        let channel = NotifyChannel(target: master.path)
        #expect(channel.send(["READY=1", "STATUS=serving"], patience: Seconds(0)) == .delivered)
        #expect(master.receive() == "READY=1\nSTATUS=serving")
        #expect(master.receive() == nil)
    }

    @Test("a master that is gone is not waited for")
    func aMasterThatIsGoneIsNotWaitedFor() throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let nothingThere = NotifyChannel(target: directory.file("missing"))
        let started = ContinuousClock.now
        #expect(nothingThere.send(["READY=1"], patience: Seconds(5)) == .masterGone)
        // A socket file whose owner has closed it: ECONNREFUSED.
        let closed = try NotifySocket(path: directory.file("closed"))
        closed.close()
        #expect(NotifyChannel(target: closed.path).send(["READY=1"], patience: Seconds(5)) == .masterGone)
        #expect(ContinuousClock.now - started < .seconds(1))
    }

    @Test("a full queue is retried until the master reads, or until the patience runs out")
    func aFullQueueIsRetried() async throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let master = try NotifySocket(path: directory.file("notify"))
        let channel = NotifyChannel(target: master.path)
        var queued = 0
        while channel.send(["APPSTATS={\"n\":\(queued)}"], patience: Seconds(0)) == .delivered {
            queued += 1
            try #require(queued < 10_000, "the master's queue never filled")
        }

        let started = ContinuousClock.now
        #expect(channel.send(["STATUS=lost"], patience: Seconds(0.05)) == .queueStayedFull)
        #expect(ContinuousClock.now - started >= .milliseconds(50))

        // The master reads one datagram while READY=1 is being retried.
        let sending = Atomic<Bool>(false)
        let delivery = Mutex<NotifyChannel.Delivery?>(nil)
        Thread {
            sending.store(true, ordering: .releasing)
            let outcome = channel.send(["READY=1", "STATUS=serving"], patience: Seconds(10))
            delivery.withLock { $0 = outcome }
        }.start()
        try await EndToEnd.Polling.until(timeout: 5, "the sender to start") { sending.load(ordering: .acquiring) }
        #expect(master.receive() == "APPSTATS={\"n\":0}")
        let outcome = try await EndToEnd.Polling.value(timeout: 5, "READY=1 to be sent") { delivery.withLock { $0 } }
        #expect(outcome == .delivered)
        var received: [String] = []
        while let datagram = master.receive() { received.append(datagram) }
        #expect(received.count == queued)
        #expect(received.last == "READY=1\nSTATUS=serving")
    }

    // MARK: Watchdog

    @Test("WATCHDOG_USEC switches pings on at half the interval; WATCHDOG_PID must be this process")
    func watchdogFollowsSystemdsRule() throws {
        #expect(try Watchdog(usec: nil, pid: nil, ownPID: 42, now: 0) == nil)
        #expect(try Watchdog(usec: "200000", pid: nil, ownPID: 42, now: 0)?.pingInterval == 100_000_000)
        #expect(try Watchdog(usec: "200000", pid: "42", ownPID: 42, now: 0)?.pingInterval == 100_000_000)
        #expect(try Watchdog(usec: "200000", pid: "43", ownPID: 42, now: 0) == nil)
        for invalid in ["0", "-5", "1.5", "", "soon"] {
            #expect(throws: Watchdog.InvalidSetting.self, "WATCHDOG_USEC='\(invalid)'") {
                try Watchdog(usec: invalid, pid: nil, ownPID: 42, now: 0)
            }
        }
        #expect(throws: Watchdog.InvalidSetting.self) { try Watchdog(usec: "1000", pid: "me", ownPID: 42, now: 0) }
    }

    @Test("pings go out on fixed ticks; after a stall the next is a whole interval away")
    func watchdogPingsOnTicks() throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let master = try NotifySocket(path: directory.file("notify"))
        let channel = NotifyChannel(target: master.path)
        var watchdog = try #require(try Watchdog(usec: "200000", pid: nil, ownPID: 42, now: 0))
        #expect(watchdog.pingIfDue(now: 50_000_000, via: channel) == 100_000_000)
        #expect(master.receive() == nil)
        #expect(watchdog.pingIfDue(now: 100_000_000, via: channel) == 200_000_000)
        #expect(master.receive() == "WATCHDOG=1")
        #expect(watchdog.pingIfDue(now: 1_000_000_000, via: channel) == 1_100_000_000)
        #expect(master.receive() == "WATCHDOG=1")
        #expect(master.receive() == nil)
    }

    // MARK: Processes

    @Test("queue pings the watchdog; hang pings, then stops and ignores SIGTERM until SIGKILL")
    func hangStopsPingingAndWaitsForSIGKILL() async throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let queue = try WorkerUnderTest(["queue", "--interval", "3600"], in: directory, name: "queue",
                                        environment: ["WATCHDOG_USEC": "100000"])
        defer { queue.kill() }
        try await queue.waitForDatagrams("three pings from queue") { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 }

        let hang = try WorkerUnderTest(["hang", "--after", "0.3"], in: directory, name: "hang",
                                       environment: ["WATCHDOG_USEC": "100000"])
        defer { hang.kill() }
        try await EndToEnd.Polling.until(timeout: 10, "the hang line", context: hang.output) {
            hang.output().contains("hanging now")
        }
        let beforeHang = hang.datagrams()
        #expect(beforeHang.first == "READY=1\nSTATUS=hanging in 0.3s")
        #expect(beforeHang.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(beforeHang)")

        // Hung: SIGTERM changes nothing, and no ping comes for three
        // intervals (a negative, so it needs a time window).
        hang.process.signal(SIGTERM)
        let window = ContinuousClock.now + .milliseconds(300)
        while ContinuousClock.now < window {
            #expect(hang.datagrams().count == beforeHang.count, "a hung worker sent \(hang.datagrams().dropFirst(beforeHang.count))")
            #expect(hang.process.isRunning)
            try await Task.sleep(for: EndToEnd.Polling.interval)
        }
        hang.process.signal(SIGKILL)
        let ended = try await EndToEnd.Polling.value(timeout: 5, "the hung worker to die") { hang.process.terminated }
        #expect(ended == EndToEnd.ChildProcess.Termination(exited: false, code: SIGKILL))
    }

    @Test("web --boot-delay: no connection is served and READY=1 is not sent before the delay")
    func bootDelayHoldsBackServingAndReadiness() async throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let listener = try EndToEnd.TCPListener(port: 0)
        let started = ContinuousClock.now
        let worker = try WorkerUnderTest(["web", "--boot-delay", "1"], in: directory, name: "web", listener: listener)
        defer { worker.kill() }
        let client = try RawConnection(port: listener.port)
        try client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

        // The answer follows READY=1, so whenever the answer is visible,
        // READY=1 must already be queued: check the client first.
        try await EndToEnd.Polling.until(timeout: 10, "READY=1", context: worker.output) {
            let answered = client.isReadable
            let ready = worker.datagrams().contains { $0.hasPrefix("READY=1") }
            #expect(!answered || ready, "an answer came before READY=1")
            return ready
        }
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(worker.datagrams().first { $0.hasPrefix("READY=1") } == "READY=1\nSTATUS=serving")
        let answer = try client.receiveAnswer()
        #expect(answer.status == 200 && answer.body.contains("pid \(worker.process.pid)"), "\(answer)")
    }

    @Test("web --port binds its own port and serves; a second copy on that port exits 2 naming the port")
    func ownPortServesAndCannotRunTwice() async throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let port = try EndToEnd.FreePort.tcp()
        let first = try WorkerUnderTest(["web", "--port", "\(port)", "--boot-delay", "0.1"], in: directory, name: "first")
        defer { first.kill() }
        try await first.waitForDatagrams("READY=1") { $0.contains { $0.hasPrefix("READY=1") } }
        let answer = EndToEnd.HTTPProbe.get(port: port)
        #expect(answer == .answered(status: 200, body: "hello from web worker 0 pid \(first.process.pid)\n"))

        let second = try WorkerUnderTest(["web", "--port", "\(port)"], in: directory, name: "second")
        defer { second.kill() }
        let ended = try await EndToEnd.Polling.value(timeout: 10, "the second copy to exit") { second.process.terminated }
        #expect(ended == EndToEnd.ChildProcess.Termination(exited: true, code: 2))
        #expect(second.output().contains("127.0.0.1:\(port) is already in use"), "\(second.output())")
    }

    @Test("keep-alive clients see no failed request when their worker is stopped after its replacement is ready")
    func keepAliveClientsMoveToTheReplacementWithoutAFailure() async throws {
        let directory = try EndToEnd.TemporaryDirectory(prefix: "appd-dw-")
        let listener = try EndToEnd.TCPListener(port: 0)
        let old = try WorkerUnderTest(["web"], in: directory, name: "old", listener: listener)
        defer { old.kill() }
        try await old.waitForDatagrams("READY=1 from the old worker") { $0.contains { $0.hasPrefix("READY=1") } }

        let clients = (0..<4).map { _ in KeepAliveClient(port: listener.port) }
        clients.forEach { $0.start() }
        defer { clients.forEach { $0.requestStop() } }
        try await EndToEnd.Polling.until(timeout: 10, "every client to be under way") {
            clients.allSatisfy { $0.answers(from: old.process.pid) >= 20 }
        }

        let new = try WorkerUnderTest(["web"], in: directory, name: "new", listener: listener)
        defer { new.kill() }
        try await new.waitForDatagrams("READY=1 from the new worker") { $0.contains { $0.hasPrefix("READY=1") } }
        let stoppedAt = ContinuousClock.now
        old.process.signal(SIGTERM)
        let ended = try await EndToEnd.Polling.value(timeout: 5, "the old worker to exit", context: old.output) {
            old.process.terminated
        }
        #expect(ended == EndToEnd.ChildProcess.Termination(exited: true, code: 0))
        // The drain as the worker timed it, from its SIGTERM to its exit: the
        // test's own view adds however late a loaded machine let it poll.
        let said = old.output().split(separator: "\n").first { $0.contains("; drained in ") }
        let drained = said.flatMap { Int($0.split(separator: "; drained in ")[1].split(separator: " ")[0]) }
        // A latency bound, not checked under ASan or TSan (see EndToEnd.LatencyBounds).
        if EndToEnd.LatencyBounds.checked("the old worker drained its keep-alive clients in \(drained.map { "\($0) ms" } ?? "?"), "
            + "seen after \(ContinuousClock.now - stoppedAt)") {
            #expect(drained.map { $0 < 1500 } == true, "the drain must end well before a 2 s stopTimeout: \(said ?? "no drain line")")
        }

        try await EndToEnd.Polling.until(timeout: 10, "every client to be served by the new worker") {
            clients.allSatisfy { $0.answers(from: new.process.pid) >= 20 }
        }
        clients.forEach { $0.requestStop() }
        try await EndToEnd.Polling.until(timeout: 10, "the clients to finish") { clients.allSatisfy(\.isFinished) }
        let failures = clients.flatMap(\.failures)
        #expect(failures.isEmpty, "\(failures.count) failed requests: \(Set(failures))")
        #expect(old.output().contains("0 send failures"), "\(old.output())")
    }
}

// MARK: - Helpers

/// The master's end of NOTIFY_SOCKET: a datagram socket bound at `path`.
private final class NotifySocket: Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw EndToEnd.SyscallError.last("socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw EndToEnd.SyscallError.last("bind(\(path))") }
    }

    /// The next datagram, or nil when none is waiting.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count >= 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    func close() { Glibc.close(fd) }
}

/// A demo-worker started the way appd starts it: its own NOTIFY_SOCKET, and
/// with `listener`, that socket at fd 3 with LISTEN_FDS=1 and LISTEN_PID set
/// by a shell that then execs the worker (LISTEN_PID must be the worker's own
/// pid, unknown before it starts). stdout and stderr go to one file.
private final class WorkerUnderTest: Sendable {
    let process: EndToEnd.ChildProcess
    private let notify: NotifySocket
    private let outputFile: String
    private let received = Mutex<[String]>([])

    init(_ arguments: [String], in directory: EndToEnd.TemporaryDirectory, name: String,
         listener: EndToEnd.TCPListener? = nil, environment: [String: String] = [:]) throws {
        notify = try NotifySocket(path: directory.file("\(name).notify"))
        outputFile = directory.file("\(name).out")
        var environment = environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment["APP_WORKER_ID"] = "0"
        var command = [EndToEnd.Binaries.demoWorker] + arguments
        if listener != nil {
            environment["LISTEN_FDS"] = "1"
            command = ["/bin/sh", "-c", #"LISTEN_PID=$$ exec "$0" "$@""#] + command
        }
        process = try EndToEnd.ChildProcess.spawn(
            command[0], Array(command.dropFirst()), environment: environment,
            stdout: outputFile, stderr: outputFile, inheritAtFD3: listener?.fd)
    }

    /// Every datagram received so far, in order.
    func datagrams() -> [String] {
        received.withLock { all in
            while let datagram = notify.receive() { all.append(datagram) }
            return all
        }
    }

    func waitForDatagrams(_ what: String, _ condition: ([String]) -> Bool) async throws {
        try await EndToEnd.Polling.until(timeout: 10, what, context: { self.output() + "\n\(self.datagrams())" }) {
            condition(datagrams())
        }
    }

    func output() -> String { (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "" }

    /// SIGKILL and reap, whatever state it is in: teardown.
    func kill() {
        process.signal(SIGKILL)
        EndToEnd.Polling.blockingUntil(timeout: 5) { !process.isRunning }
        notify.close()
    }
}

/// A blocking TCP connection to 127.0.0.1 that sends raw bytes and reads one
/// HTTP answer at a time, telling whether the server asked to close.
private final class RawConnection {
    struct Answer: CustomStringConvertible {
        var status: Int
        var body: String
        var closes: Bool
        var description: String { "\(status) \(body.debugDescription)\(closes ? " (Connection: close)" : "")" }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    private let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: EndToEnd.SyscallError.last("socket").description) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = EndToEnd.loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let failure = Failure(description: EndToEnd.SyscallError.last("connect").description)
            Glibc.close(fd)
            throw failure
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw Failure(description: EndToEnd.SyscallError.last("send").description) }
            sent += count
        }
    }

    /// Something to read (or the end of the stream) is waiting.
    var isReadable: Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }

    /// Reads exactly one answer (the client sends one request at a time, so
    /// nothing follows it).
    func receiveAnswer() throws -> Answer {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            switch EndToEnd.HTTPProbe.parseAnswer(received) {
            case .success(let answer)?:
                let head = String(decoding: received, as: UTF8.self).lowercased()
                return Answer(status: answer.status, body: answer.body, closes: head.contains("\r\nconnection: close\r\n"))
            case .failure(let malformed)?:
                throw Failure(description: malformed.description)
            case nil:
                break
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { throw Failure(description: EndToEnd.SyscallError.last("recv after \(received.count) bytes").description) }
            if count == 0 { throw Failure(description: "closed after \(received.count) bytes without a whole answer") }
            received.append(contentsOf: buffer[..<count])
        }
    }
}

/// A client in the style of a plain HTTP/1.1 library: one keep-alive
/// connection, requests one after another without a pause, a new connection
/// only when the server answered `Connection: close`. It does not look
/// whether the server closed the connection before reusing it, so a
/// connection closed under a request is a failure, as it is for Python's
/// http.client. Runs on its own thread (blocking calls stay off the
/// cooperative pool).
private final class KeepAliveClient: Sendable {
    let port: UInt16
    private let stopRequested = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let answeredBy = Mutex<[Int32: Int]>([:])
    private let failureList = Mutex<[String]>([])

    init(port: UInt16) { self.port = port }

    func start() {
        Thread { [self] in
            var connection: RawConnection?
            while !stopRequested.load(ordering: .relaxed) {
                do {
                    let current = try connection ?? RawConnection(port: port)
                    connection = current
                    try current.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    let answer = try current.receiveAnswer()
                    if answer.closes { connection = nil }
                    let pid = answer.body.firstMatch(of: /pid (\d+)/).flatMap { Int32($0.1) } ?? 0
                    answeredBy.withLock { $0[pid, default: 0] += 1 }
                } catch {
                    failureList.withLock { $0.append("\(error)") }
                    connection = nil
                }
            }
            finished.store(true, ordering: .releasing)
        }.start()
    }

    func answers(from pid: Int32) -> Int { answeredBy.withLock { $0[pid] ?? 0 } }
    var failures: [String] { failureList.withLock { $0 } }
    var isFinished: Bool { finished.load(ordering: .acquiring) }
    func requestStop() { stopRequested.store(true, ordering: .relaxed) }
}
