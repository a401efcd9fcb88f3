import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// The routing of the core's notices to the clients that wait for them:
/// notices in, replies out, every ordering checked without a socket.
@Suite struct ControlStreamsTests {
    static func noOutput(_ pid: Int32) -> [String] { [] }

    @Test func aReloadStreamsEachReplacementAndEachGroupThenEndsOnce() {
        var streams = ControlStreams()
        streams.reloadRequested(client: 7, request: 1, group: nil)
        #expect(streams.route(.reloadBegan(groups: ["web", "queue"]), output: Self.noOutput).isEmpty)
        let replaced = streams.route(.replaced(WorkerRef(group: "web", id: 0), oldPid: 100, newPid: 200), output: Self.noOutput)
        #expect(replaced == [.init(client: 7, reply: .item(id: 1, .replaced(ProcessReplaced(group: "web", id: 0, oldPid: 100, newPid: 200))))])
        let web = streams.route(.reloadFinished(group: "web", ReloadResult(outcome: .completed, replaced: 1)), output: Self.noOutput)
        #expect(web.count == 1, "one item, the stream still waits for queue: \(web)")
        let queue = streams.route(.reloadFinished(group: "queue", ReloadResult(outcome: .signalled(processes: 1))), output: Self.noOutput)
        #expect(queue.count == 2)
        #expect(queue.last == .init(client: 7, reply: .done(id: 1, .reloaded(groups: 2))))
        #expect(streams.reloads.isEmpty && !streams.hasStreams(client: 7))
    }

    @Test func anAbortedGroupEndsTheStreamWithAnErrorNamingItAndItsLastOutput() {
        var streams = ControlStreams()
        streams.reloadRequested(client: 3, request: 9, group: "web")
        _ = streams.route(.reloadBegan(groups: ["web"]), output: Self.noOutput)
        var result = ReloadResult(outcome: .aborted(reason: "the successor web#0[42] exited 1"))
        result.failedPid = 42
        let deliveries = streams.route(.reloadFinished(group: "web", result)) { pid in pid == 42 ? ["ImportError: app"] : [] }
        guard case .item(_, .reloaded(let reloaded)) = deliveries.first?.reply else {
            Issue.record("expected the group's item first: \(deliveries)")
            return
        }
        #expect(reloaded.outcome == .aborted && reloaded.output == ["ImportError: app"])
        guard case .error(9, let error) = deliveries.last?.reply else {
            Issue.record("expected the final error: \(deliveries)")
            return
        }
        #expect(error.code == .reloadAborted && error.message.contains("web: the successor web#0[42] exited 1"))
    }

    @Test func aLaterReloadOfAFinishedGroupIsNotReportedToAnEarlierStream() {
        var streams = ControlStreams()
        streams.reloadRequested(client: 1, request: 1, group: nil)
        _ = streams.route(.reloadBegan(groups: ["web", "queue"]), output: Self.noOutput)
        _ = streams.route(.reloadFinished(group: "web", ReloadResult(outcome: .completed)), output: Self.noOutput)
        // A second client reloads web while the first still waits for queue.
        streams.reloadRequested(client: 2, request: 5, group: "web")
        _ = streams.route(.reloadBegan(groups: ["web"]), output: Self.noOutput)
        let replaced = streams.route(.replaced(WorkerRef(group: "web", id: 0), oldPid: 1, newPid: 2), output: Self.noOutput)
        #expect(replaced.map(\.client) == [2], "only the second stream follows web now")
        let finished = streams.route(.reloadFinished(group: "web", ReloadResult(outcome: .completed, replaced: 1)), output: Self.noOutput)
        #expect(finished.map(\.client) == [2, 2], "its item and its end: \(finished)")
        #expect(streams.reloads.map(\.client) == [1], "the first still waits for queue")
    }

    @Test func aStopOvertakenByAStartEndsWithAnErrorAndAStoppedGroupEndsItsStops() {
        var streams = ControlStreams()
        streams.stops = [.init(client: 4, request: 2, group: "web"), .init(client: 5, request: 3, group: "queue")]
        let overtaken = streams.endOvertakenStops { $0 == "queue" }
        #expect(overtaken.map(\.client) == [4])
        guard case .error(2, let error) = overtaken.first?.reply else {
            Issue.record("\(overtaken)")
            return
        }
        #expect(error.code == .busy && error.message.contains("overtaken"))
        #expect(streams.route(.groupStopped("queue"), output: Self.noOutput) == [.init(client: 5, reply: .done(id: 3, .stopped(group: "queue")))])
        #expect(streams.stops.isEmpty)
    }

    @Test func aRefusedReloadLeavesNoStream() {
        var streams = ControlStreams()
        streams.reloadRequested(client: 1, request: 1, group: "web")
        streams.reloadRefused(client: 1, request: 1)
        #expect(!streams.hasStreams(client: 1))
    }
}
