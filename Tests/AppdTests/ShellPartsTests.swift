import Foundation
import Glibc
import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// The shell's parts on their own, each behind its small interface: the
/// event loop's registrations, the control server's framing, budgets and
/// buffers (over a real unix socket, the loop driven turn by turn from the
/// test), the status job's slices, the watchers' shared ticks, the output
/// budget and the spawn queue.
@Suite struct ShellPartsTests {
    // MARK: - Event loop

    @Test func anFdUnregisteredEarlierInTheTurnGetsNoEventAndDeferredWorkRunsAtTheEnd() throws {
        let loop = EventLoop(poll: try EventPoll())
        let first = try Pipe.make()
        let second = try Pipe.make()
        defer { for fd in [first.read, first.write, second.read, second.write] { FileIO.close(fd) } }
        var order: [String] = []
        var registrations: [Int32: EventLoop.Registration] = [:]
        // Whichever handler runs first unregisters the other pipe: the
        // other's event, fetched in the same epoll_wait, must not arrive.
        for (mine, other) in [(first.read, second.read), (second.read, first.read)] {
            // unowned: the loop keeps its handlers, and a handler keeping the
            // loop would be a cycle LeakSanitizer reports (scripts/sanitizers.sh).
            registrations[mine] = try loop.register(fd: mine, interest: .readable) { [unowned loop] _ in
                order.append("event \(mine)")
                if let registration = registrations[other] { loop.unregister(registration, fd: other) }
                loop.atEndOfTurn { order.append("deferred") }
            }
        }
        _ = try FileIO.write(first.write, [1])
        _ = try FileIO.write(second.write, [1])
        try loop.turn(block: false) { true }
        #expect(order.count == 2 && order.first?.hasPrefix("event") == true && order.last == "deferred", "\(order)")
        #expect(loop.registrationCount == 1)
    }

    // MARK: - Control server

    /// A server on a socket in a temporary directory, and a way to drive
    /// its loop a turn at a time as the daemon does.
    final class ServerUnderTest {
        let directory: EndToEnd.TemporaryDirectory
        let loop: EventLoop
        let server: ControlServer
        let log: DaemonLog
        var requests: [(ControlRequest, Int32)] = []
        var closed: [Int32] = []

        init() throws {
            directory = try EndToEnd.TemporaryDirectory()
            loop = EventLoop(poll: try EventPoll())
            log = try DaemonLog(config: .unrotated(directory.path + "/appd.log"))
            server = try ControlServer(listener: try UnixControlListener(path: directory.path + "/c.sock"), loop: loop, log: log)
            server.onRequest = { [unowned self] request, client in
                requests.append((request, client))
                server.send(.done(id: request.id, .pong), to: client)
            }
            server.onClientClosed = { [unowned self] client in closed.append(client) }
        }

        deinit { log.finish(timeout: 1) }

        var socketPath: String { directory.path + "/c.sock" }

        /// One turn as `Daemon.run` makes it.
        func turn() throws {
            server.startTurn()
            try loop.turn(block: false) { true }
            server.handleLeftoverRequests()
            loop.runDeferred()
        }
    }

    /// Writes `bytes` on a connected client, then shuts its sending side.
    static func connect(to path: String, sending bytes: [UInt8], halfClose: Bool = true) throws -> EndToEnd.ControlSocketClient {
        let client = try EndToEnd.ControlSocketClient(path: path)
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { Glibc.write(client.fd, $0.baseAddress, $0.count) }
            try #require(written > 0, "the test's requests fit in the socket buffer")
            rest = rest.dropFirst(written)
        }
        if halfClose { shutdown(client.fd, Int32(SHUT_WR)) }
        return client
    }

    /// What the client has received so far, read without waiting; nil once at EOF.
    static func readAvailable(_ fd: Int32, into received: inout [UInt8]) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 { received += buffer[..<count]; continue }
            return count == 0 ? false : true
        }
    }

    @Test func everyPipelinedRequestBeforeAHalfCloseIsAnsweredAThirtyTwoPerTurnShare() throws {
        let harness = try ServerUnderTest()
        let lines = (1...100).map { #"{"id":\#($0),"cmd":"ping"}"# }.joined(separator: "\n") + "\n"
        let client = try Self.connect(to: harness.socketPath, sending: Array(lines.utf8))
        var received: [UInt8] = []
        var open = true
        var turns = 0
        var handledAfterFirstRequestTurn: Int?
        while open, turns < 100 {
            try harness.turn()
            turns += 1
            if handledAfterFirstRequestTurn == nil, !harness.requests.isEmpty { handledAfterFirstRequestTurn = harness.requests.count }
            open = Self.readAvailable(client.fd, into: &received)
        }
        #expect(!open, "the half-closed client is closed once owed nothing (after \(turns) turns)")
        #expect(harness.requests.map(\.0.id) == Array(1...100))
        #expect(String(decoding: received, as: UTF8.self).split(separator: "\n").count == 100)
        #expect(handledAfterFirstRequestTurn == ControlServer.requestsPerTurn, "one turn handles one share, not all")
        #expect(harness.closed.count == 1)
    }

    @Test func aRequestSentWithTheConnectIsAnsweredInTheTurnThatAcceptsIt() throws {
        let harness = try ServerUnderTest()
        let client = try Self.connect(to: harness.socketPath, sending: Array(#"{"id":3,"cmd":"ping"}\#n"#.utf8), halfClose: false)
        try harness.turn()
        #expect(harness.requests.map(\.0.id) == [3])
        var received: [UInt8] = []
        #expect(Self.readAvailable(client.fd, into: &received))
        #expect(String(decoding: received, as: UTF8.self).contains(#""id":3"#))
    }

    @Test func aLastRequestWithoutItsNewlineBeforeEOFIsStillARequest() throws {
        let harness = try ServerUnderTest()
        let client = try Self.connect(to: harness.socketPath, sending: Array(#"{"id":7,"cmd":"ping"}"#.utf8))
        var received: [UInt8] = []
        var open = true
        for _ in 0..<50 where open {
            try harness.turn()
            open = Self.readAvailable(client.fd, into: &received)
        }
        #expect(harness.requests.map(\.0.id) == [7])
        #expect(String(decoding: received, as: UTF8.self).contains(#""id":7"#))
        #expect(!open)
    }

    @Test func anOversizedLineIsRefusedAndTheClientClosed() throws {
        let harness = try ServerUnderTest()
        let client = try Self.connect(to: harness.socketPath, sending: [], halfClose: false)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
        var sent = 0
        var received: [UInt8] = []
        var open = true
        for _ in 0..<400 where open {
            if sent <= LineFramer.protocolLineLimit {
                let written = chunk.withUnsafeBytes { Glibc.write(client.fd, $0.baseAddress, $0.count) }
                if written > 0 { sent += written }
            }
            try harness.turn()
            open = Self.readAvailable(client.fd, into: &received)
        }
        #expect(harness.requests.isEmpty)
        #expect(String(decoding: received, as: UTF8.self).contains("too_large") || String(decoding: received, as: UTF8.self).contains("line"),
                "\(String(decoding: received.prefix(300), as: UTF8.self))")
        #expect(!open && harness.closed.count == 1)
    }

    @Test func aClientClosedMidTurnKeepsItsFdUntilTheTurnEndsAndGetsNothingMore() throws {
        let harness = try ServerUnderTest()
        var sentAfterClose = 0
        harness.server.onRequest = { [unowned harness] request, client in
            // The reply to the first request is the last: the client is
            // finished at once; what follows in the same turn is dropped.
            harness.requests.append((request, client))
            harness.server.finish(client, with: .done(id: request.id, .pong))
            harness.server.send(.done(id: 99, .pong), to: client)
            sentAfterClose += 1
        }
        let lines = #"{"id":1,"cmd":"ping"}"# + "\n" + #"{"id":2,"cmd":"ping"}"# + "\n"
        let client = try Self.connect(to: harness.socketPath, sending: Array(lines.utf8), halfClose: false)
        var received: [UInt8] = []
        var open = true
        for _ in 0..<50 where open {
            try harness.turn()
            open = Self.readAvailable(client.fd, into: &received)
        }
        let replies = String(decoding: received, as: UTF8.self).split(separator: "\n")
        #expect(replies.count == 1 && replies[0].contains(#""id":1"#), "\(replies)")
        #expect(harness.requests.count == 1, "no request is handled after the client's last word")
        #expect(harness.closed.count == 1 && harness.server.clientCount == 0)
    }

    @Test func aClientThatDoesNotReadIsDroppedWhenItsBufferIsFull() throws {
        let pair = try Self.socketPair()
        defer { FileIO.close(pair.1) }
        let client = ControlClient(number: 1, fd: pair.0, now: .now())
        defer { FileIO.close(pair.0) }
        let big = ControlReply.item(id: 1, .log(LogEntry(time: 0, group: "web", id: 0, pid: 1, stream: .stdout,
                                                         line: String(repeating: "x", count: 60_000))))
        var outcome = ControlClient.Outcome.flushed
        var replies = 0
        while case .flushed = outcome, replies < 1000 { outcome = client.send(CollectionOfOne(big)); replies += 1 }
        #expect(outcome == .blocked, "the socket fills first")
        while case .blocked = outcome, replies < 1000 { outcome = client.send(CollectionOfOne(big)); replies += 1 }
        guard case .failed(let reason) = outcome else {
            Issue.record("expected the client to be dropped, got \(outcome) after \(replies) replies")
            return
        }
        #expect(reason.contains("not reading"))
        #expect(client.pendingBytes <= ControlClient.maximumOutbound)
    }

    static func socketPair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemError.last("socketpair")
        }
        return (fds[0], fds[1])
    }

    // MARK: - Status in slices

    @Test func aSlotWalkCoversEverySlotInSlicesAndSkipsSlotsThatWent() {
        var harness = SupervisorHarness([SupervisorHarness.group("web", count: 300), SupervisorHarness.group("queue", count: 5)])
        var walk = SlotWalk(group: nil, supervisor: harness.supervisor)
        var slices: [[String]] = []
        while !walk.isFinished {
            let slice = walk.nextSlots(limit: 128, in: harness.supervisor)
            slices.append(slice.map { "\($0.group)#\($0.slot.id)" })
            if slices.count == 1 {
                // The group shrinks while the job is under way.
                #expect(harness.request(.scale(group: "web", count: 200)) == nil)
                harness.obeySignals()
            }
        }
        #expect(slices.map(\.count).first == 128)
        let all = slices.flatMap { $0 }
        #expect(all.filter { $0.hasPrefix("queue#") }.count == 5)
        #expect(Set(all).count == all.count, "no slot twice")
        #expect(harness.supervisor.group(named: "web")?.slots.count == 200)
        #expect(all.filter { $0.hasPrefix("web#") }.count == 200, "slots 200–299 went before their slice came: skipped")
    }

    @Test func aOneShotStatusGoesBeforeAWatchTickAlreadyUnderWay() {
        let harness = SupervisorHarness([SupervisorHarness.group("web", count: 300)])
        let status = StatusService()
        var sent: [(client: Int32, line: String)] = []
        status.send = { lines, client in
            for line in String(decoding: lines, as: UTF8.self).split(separator: "\n") { sent.append((client, String(line))) }
        }
        status.startSnapshot(group: nil, for: [.init(client: 1, request: 1, streaming: true)], supervisor: harness.supervisor)
        status.continueWork(supervisor: harness.supervisor, reports: [:])
        status.startSnapshot(group: nil, for: [.init(client: 2, request: 7, streaming: false)], supervisor: harness.supervisor)
        while status.hasWork { status.continueWork(supervisor: harness.supervisor, reports: [:]) }

        let ends = sent.enumerated().filter { $0.element.line.contains("snapshotEnd") || $0.element.line.contains(#""done":true"#) }
        #expect(ends.map(\.element.client) == [2, 1], "the one-shot ends first")
        #expect(sent.filter { $0.client == 1 && $0.line.contains(#""type":"process""#) }.count == 300)
        #expect(sent.filter { $0.client == 2 && $0.line.contains(#""type":"process""#) }.count == 300)
    }

    @Test func watchersOfOneGroupAndIntervalShareATickAndLateJoinersRideAlong() {
        var streams = ControlStreams()
        let start = MonotonicInstant(seconds: 100)
        streams.watchers = [
            .init(client: 1, request: 1, group: nil, interval: 1, next: start),
            .init(client: 2, request: 1, group: nil, interval: 1, next: start.adding(seconds: 0.4)),
            .init(client: 3, request: 1, group: nil, interval: 1, next: start.adding(seconds: 0.9)),
            .init(client: 4, request: 1, group: "web", interval: 1, next: start),
        ]
        let ticks = streams.takeDueWatchers(now: start)
        #expect(ticks.count == 2, "one snapshot per group: \(ticks)")
        #expect(ticks.first { $0.group == nil }?.recipients.map(\.client) == [1, 2], "2 rides along, 3 is too far off")
        #expect(ticks.first { $0.group == "web" }?.recipients.map(\.client) == [4])
        #expect(streams.nextWatchDeadline == start.adding(seconds: 0.9))
        #expect(streams.takeDueWatchers(now: start.adding(seconds: 0.5)).isEmpty)
    }

    // MARK: - Output budget and spawn queue

    @Test func anOutputBudgetDropsPastItsRateAndCountsWhatItDropped() {
        let start = MonotonicInstant(seconds: 10)
        var budget = OutputBudget(worker: WorkerRef(group: "web", id: 0), pid: 1, bytesPerSecond: 4096, now: start)
        var verdicts: [OutputBudget.Verdict] = []
        for _ in 0..<20 { verdicts.append(budget.admit(bytes: 10, now: start)) }
        #expect(verdicts.filter { $0 == .keep }.count == 4096 / OutputBudget.minimumLineCost, "short lines cost the minimum")
        #expect(verdicts.last == .drop)
        let dropped = verdicts.filter { $0 == .drop }.count
        #expect(budget.admit(bytes: 10, now: start.adding(seconds: 1)) == .keepAfterDropping(dropped))
        #expect(budget.takeDropped() == 0)
    }

    @Test func anExhaustedBudgetDropsTheRestOfAReadInOneStepAndCountsIt() {
        let start = MonotonicInstant(seconds: 10)
        var budget = OutputBudget(worker: WorkerRef(group: "flood", id: 0), pid: 42, bytesPerSecond: 1000, now: start)
        #expect(!budget.isExhausted)
        #expect(budget.admit(bytes: 300, now: start) == .keep)
        #expect(budget.admit(bytes: 300, now: start) == .keep)
        #expect(!budget.isExhausted, "400 bytes left: a short line still fits")
        #expect(budget.admit(bytes: 500, now: start) == .drop, "a long line does not")
        #expect(budget.admit(bytes: 2, now: start) == .keepAfterDropping(1), "a short one after it does: the loop goes on while not exhausted")
        #expect(budget.admit(bytes: 2, now: start) == .drop)
        #expect(budget.isExhausted)
        budget.drop(1000)
        #expect(budget.admit(bytes: 2, now: start.adding(seconds: 1)) == .keepAfterDropping(1001), "the marker counts what was dropped in one step")
    }

    @Test func theSpawnQueueKeepsTheCoresOrderAcrossItsCompaction() {
        var queue = SpawnQueue()
        let config = SupervisorHarness.group("web", count: 1)
        var taken: [Int] = []
        for round in 0..<3 {
            for id in 0..<100 { queue.append(SpawnOrder(worker: WorkerRef(group: "web", id: round * 100 + id), role: .current, generation: 1, config: config)) }
            for _ in 0..<70 { taken.append(queue.popFirst()!.worker.id) }
        }
        while let order = queue.popFirst() { taken.append(order.worker.id) }
        #expect(taken == Array(0..<300))
        #expect(queue.isEmpty)
    }

    @Test func aTurnSliceStopsAtItsCountOrItsTimeButAlwaysTakesTheFirstItem() {
        final class FakeClock: @unchecked Sendable { var now = MonotonicInstant(seconds: 100) }
        let clock = FakeClock()
        var byCount = TurnSlice(items: 3, seconds: 0.005, now: { clock.now })
        let counted = (0..<4).map { _ in byCount.takeOne() }
        #expect(counted == [true, true, true, false])

        var byTime = TurnSlice(items: 16, seconds: 0.005, now: { clock.now })
        var timed = [byTime.takeOne(), byTime.takeOne()]
        clock.now = clock.now.adding(seconds: 0.004)
        timed.append(byTime.takeOne())
        clock.now = clock.now.adding(seconds: 0.001)
        timed.append(byTime.takeOne())
        #expect(timed == [true, true, true, false], "one more 4 ms in; none 5 ms in")
        #expect(byTime.taken == 3)

        var slowFirst = TurnSlice(items: 16, seconds: 0.005, now: { clock.now })
        clock.now = clock.now.adding(seconds: 1)
        let first = slowFirst.takeOne()
        let second = slowFirst.takeOne()
        #expect(first && !second, "the first item runs however late, and is the only one")
    }
}
