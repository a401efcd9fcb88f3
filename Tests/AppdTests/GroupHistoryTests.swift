import Foundation
import Testing
@testable import DaemonShell
@testable import Shared
@testable import SupervisorCore

/// Each group's history: bounded by lines and by bytes, oldest first out,
/// read back in order; and `GroupLogs`, which keeps one per group so that
/// one group's noise never evicts another's, with appd's own lines about a
/// worker between the worker's.
@Suite struct GroupHistoryTests {
    static func texts(_ history: GroupHistory) -> [String] { history.all.map(history.text(of:)) }

    static func append(_ history: inout GroupHistory, _ text: String, sequence: UInt64, id: Int = 0, stream: LogEntry.Stream = .stdout) {
        history.append(Array(text.utf8), sequence: sequence, origin: .init(time: Double(sequence), id: id, pid: 7, stream: stream))
    }

    @Test func theOldestLinesGoWhenTheLineLimitIsReached() {
        var history = GroupHistory(limits: HistoryLimits(lines: 3, bytes: 1 << 16))
        for index in 1...5 { Self.append(&history, "line \(index)", sequence: UInt64(index)) }
        #expect(Self.texts(history) == ["line 3", "line 4", "line 5"])
        #expect(history.count == 3 && history.textBytes == 18)
    }

    @Test func theOldestLinesGoWhenTheByteLimitIsReachedAndTheRingWraps() {
        let limit = HistoryLimits.minimumBytes
        var history = GroupHistory(limits: HistoryLimits(lines: 1000, bytes: limit))
        let line = String(repeating: "x", count: 1000)
        for index in 1...300 {
            Self.append(&history, "\(index) " + line, sequence: UInt64(index))
            #expect(history.textBytes <= limit)
        }
        let kept = Self.texts(history)
        #expect(kept.last == "300 " + line && kept.count == limit / 1004, "as many whole lines as fit: \(kept.count)")
        #expect(kept.allSatisfy { $0.hasSuffix(line) }, "lines that wrap around the ring's end read back whole")
        #expect(zip(kept, kept.dropFirst()).allSatisfy { Int($0.split(separator: " ")[0])! + 1 == Int($1.split(separator: " ")[0])! })
        // Shorter lines after longer ones: the line ring grows again.
        for index in 301...600 { Self.append(&history, "short \(index)", sequence: UInt64(index)) }
        #expect(Self.texts(history).suffix(300) == (301...600).map { "short \($0)" }[...])
    }

    /// A read of many lines keeps only the newest that fit; what it keeps
    /// (text, sequences, and what later lines push out) is what keeping
    /// them one by one keeps.
    @Test func aLargeReadKeepsWhatKeepingItsLinesOneByOneKeeps() {
        let text = (1...500).map { "line \($0) " + String(repeating: "y", count: $0 % 300) }
        var read: [UInt8] = []
        var spans: [LineSpan] = []
        for line in text {
            spans.append(LineSpan(range: read.count..<(read.count + line.utf8.count), cut: line.hasSuffix("yyyyy9")))
            read += Array(line.utf8) + [UInt8(ascii: "\n")]
        }
        for limits in [HistoryLimits(lines: 100, bytes: 1 << 20), HistoryLimits(lines: 1000, bytes: HistoryLimits.minimumBytes),
                       HistoryLimits(lines: 3, bytes: HistoryLimits.minimumBytes), HistoryLimits(lines: 1000, bytes: 1 << 20)] {
            let origin = GroupHistory.Origin(time: 1, id: 0, pid: 7, stream: .stdout)
            var whole = GroupHistory(limits: limits)
            var single = GroupHistory(limits: limits)
            read.withUnsafeBufferPointer { buffer in
                Self.append(&whole, "before", sequence: 1)
                Self.append(&single, "before", sequence: 1)
                whole.append(spans, of: buffer, firstSequence: 2, origin: origin)
                for (index, span) in spans.enumerated() {
                    single.append([span], of: buffer, firstSequence: 2 + UInt64(index), origin: origin)
                }
            }
            #expect(Self.texts(whole) == Self.texts(single), "\(limits)")
            #expect(whole.all.map(\.sequence) == single.all.map(\.sequence) && whole.textBytes == single.textBytes)
            for index in 1...50 {
                Self.append(&whole, "after \(index)", sequence: 1000 + UInt64(index))
                Self.append(&single, "after \(index)", sequence: 1000 + UInt64(index))
            }
            #expect(Self.texts(whole) == Self.texts(single) && whole.count == single.count, "\(limits)")
        }
    }

    @Test func readsTheLastMatchingLinesAndOnFromACursor() {
        var history = GroupHistory(limits: .standard)
        for index in 1...10 { Self.append(&history, "line \(index)", sequence: UInt64(index * 2), id: index % 2, stream: index % 3 == 0 ? .appd : .stdout) }
        #expect(history.last(2) { $0.id == 1 }.map(history.text(of:)) == ["line 7", "line 9"])
        #expect(history.lines(after: 9, limit: 3) { _ in true }.map(history.text(of:)) == ["line 5", "line 6", "line 7"])
        #expect(history.lines(after: 10, limit: 2) { $0.stream == .appd }.map(history.text(of:)) == ["line 6", "line 9"])
        #expect(history.lines(after: 20, limit: 5) { _ in true }.isEmpty)
        #expect(history.lines(after: 0, limit: 1) { _ in true }.map(history.text(of:)) == ["line 1"])
    }

    @Test func aReloadResizesAHistoryKeepingTheNewestLines() {
        var history = GroupHistory(limits: .standard)
        for index in 1...10 { Self.append(&history, "line \(index)", sequence: UInt64(index)) }
        let smaller = history.resized(to: HistoryLimits(lines: 4, bytes: HistoryLimits.minimumBytes))
        #expect(Self.texts(smaller) == ["line 7", "line 8", "line 9", "line 10"])
        #expect(smaller.all.map(\.sequence) == [7, 8, 9, 10])
    }

    // MARK: - GroupLogs

    /// GroupLogs over a daemon log in a temporary directory.
    final class Logs {
        let directory: EndToEnd.TemporaryDirectory
        let logs: GroupLogs
        var followed: [LogEntry] = []

        /// `groups` is given the temporary directory, for log files in it.
        init(groups: (String) -> [GroupConfig]) throws {
            directory = try EndToEnd.TemporaryDirectory()
            logs = GroupLogs(daemonLog: try DaemonLog(config: .unrotated(directory.path + "/appd.log")))
            let config = DaemonConfig(sourcePath: nil, controlSocket: "/s", pidFile: "/p", statusFile: "/st",
                                      daemonLog: .unrotated(directory.path + "/appd.log"), stopTimeout: 2, groups: groups(directory.path))
            logs.apply(config, opened: try logs.openFiles(for: config))
            logs.isFollowed = { $0 == "web" }
            logs.onEntry = { [unowned self] in followed.append($0) }
        }

        func file(_ name: String) -> String { (try? String(contentsOfFile: directory.path + "/" + name, encoding: .utf8)) ?? "" }

        /// Lines as one read of a worker's pipe.
        func output(_ group: String, id: Int = 0, pid: Int32 = 100, stream: LogEntry.Stream = .stdout, _ lines: String...) {
            let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
            var spans: [LineSpan] = []
            bytes.withUnsafeBufferPointer { buffer in
                _ = ChildOutput.lines(in: buffer, into: &spans)
                logs.recordOutput(spans, of: buffer, from: LineSource(worker: WorkerRef(group: group, id: id), pid: pid, stream: stream), at: .now())
            }
        }

        func lines(_ filter: LogFilter, last count: Int = 100) -> [String] {
            logs.lines(after: logs.cursor(beforeLast: count, matching: filter), matching: filter, limit: 1000)
                .map { "\($0.entry.worker) \($0.entry.stream.rawValue): \($0.entry.line)" }
        }

        func finish() {
            logs.finish(timeout: 5)
            logs.daemonLog.finish(timeout: 5)
        }
    }

    static func group(_ name: String, lines: Int = 2000, log: LogFileConfig? = nil) -> GroupConfig {
        GroupConfig(name: name, command: ["x"], count: 1, log: log, history: HistoryLimits(lines: lines, bytes: HistoryLimits.minimumBytes))
    }

    @Test func aChattyGroupNeverEvictsAnotherGroupsLines() throws {
        let logs = try Logs { _ in [Self.group("crasher", lines: 50), Self.group("chatty", lines: 50)] }
        logs.output("crasher", stream: .stderr, "Traceback (most recent call last):", "ValueError: boom")
        logs.logs.record(LogRecord(level: .warning, message: "exited 1 after 0.1s", worker: WorkerRef(group: "crasher", id: 0), pid: 100))
        for index in stride(from: 0, to: 10_000, by: 4) {
            logs.output("chatty", pid: 200, "noise \(index)", "noise \(index + 1)", "noise \(index + 2)", "noise \(index + 3)")
        }
        #expect(logs.lines(LogFilter(group: "crasher")) == [
            "crasher#0[100] stderr: Traceback (most recent call last):", "crasher#0[100] stderr: ValueError: boom",
            "crasher#0[100] appd: exited 1 after 0.1s",
        ])
        #expect(logs.lines(LogFilter(group: "chatty"), last: 2) == ["chatty#0[200] stdout: noise 9998", "chatty#0[200] stdout: noise 9999"])
        let all = logs.lines(LogFilter(), last: 4)
        #expect(all == ["chatty#0[200] stdout: noise 9996", "chatty#0[200] stdout: noise 9997",
                        "chatty#0[200] stdout: noise 9998", "chatty#0[200] stdout: noise 9999"], "across groups in the order recorded")
        #expect(logs.lines(LogFilter(stream: .appd)) == ["crasher#0[100] appd: exited 1 after 0.1s"])
        logs.finish()
    }

    @Test func appdsLinesAboutAWorkerGoToItsGroupsFileAndFollowers() throws {
        let logs = try Logs { directory in [Self.group("web", log: LogFileConfig(path: directory + "/web.log")), Self.group("queue")] }
        logs.output("web", "listening")
        logs.logs.record(LogRecord(level: .info, message: "started", worker: WorkerRef(group: "web", id: 1), pid: 101))
        logs.logs.record(LogRecord(level: .info, message: "rolling reload of group web begins"))
        logs.output("queue", pid: 300, "job 1")
        #expect(logs.followed.map(\.line) == ["listening", "started"], "followers of web get its lines and appd's about it")
        #expect(logs.followed.last?.stream == .appd && logs.followed.last?.worker == "web#1[101]")
        logs.finish()
        let web = logs.file("web.log").split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1)[1] }
        #expect(web == ["web#0[100] stdout: listening", "web#1[101] appd: started"], "\(web)")
        let daemon = logs.file("appd.log")
        #expect(daemon.contains(" info: worker web#1[101] started\n") && daemon.contains(" info: rolling reload of group web begins\n"))
        #expect(daemon.contains(" queue#0[300] stdout: job 1\n") && !daemon.contains("listening"),
                "a group without a file of its own writes to the daemon's log; web has its own: \(daemon)")
    }
}
