import Foundation
import Glibc
import Testing
@testable import DaemonShell
@testable import Shared
@testable import SupervisorCore

/// A log file as its sink's writer thread keeps it: rotated by size with no
/// line split or lost between files, and reopened after an external rename.
@Suite struct LogFileTests {
    static let source = LineSource(worker: WorkerRef(group: "web", id: 0), pid: 7, stream: .stdout)

    /// Numbered lines through a feed, a batch of `perBatch` at a time, as a
    /// worker's reads arrive.
    static func write(_ range: Range<Int>, to feed: LogFeed, perBatch: Int = 37) {
        let stamp = LogStamp(seconds: 1_796_041_697)
        for batch in stride(from: range.lowerBound, to: range.upperBound, by: perBatch) {
            let lines = (batch..<min(batch + perBatch, range.upperBound)).map { "line \($0) \(String(repeating: "-", count: $0 % 50))\n" }
            let bytes = Array(lines.joined().utf8)
            var spans: [LineSpan] = []
            bytes.withUnsafeBufferPointer { buffer in
                _ = ChildOutput.lines(in: buffer, into: &spans)
                feed.appendGroupLines(spans, of: buffer, from: source, at: stamp)
            }
            feed.flush()
        }
    }

    /// The line numbers in a file's lines, checking each line is whole.
    static func numbers(in path: String) throws -> [Int] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.isEmpty || text.hasSuffix("\n"), "ends with a whole line: \(path)")
        return try text.split(separator: "\n").map { line in
            let fields = line.split(separator: " ")
            #expect(fields.count >= 5 && fields[1] == "web#0[7]" && fields[3] == "line", "whole line: \(line)")
            let number = try #require(Int(fields[4]))
            #expect(fields.count == (number % 50 == 0 ? 5 : 6), "whole line: \(line)")
            return number
        }
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    @Test func rotationKeepsEveryLineWholeAndInOrderAcrossFiles() throws {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/logs/web.log"
        let feed = try LogFeed.open(LogFileConfig(path: path, maxBytes: 4096, keep: 40), capacity: LogSink.groupFileCapacity)
        Self.write(0..<2000, to: feed)
        feed.finish(timeout: 10)
        let files = (try FileManager.default.contentsOfDirectory(atPath: directory.path + "/logs")).sorted()
        let copies = files.filter { $0 != "web.log" }.compactMap { Int($0.dropFirst("web.log.".count)) }.sorted()
        #expect(copies == Array(1...copies.count) && copies.count > 20 && copies.count < 40, "\(files)")
        var numbers: [Int] = []
        for copy in copies.reversed() {
            let file = path + ".\(copy)"
            #expect(Self.size(file) <= 4096 && Self.size(file) > 4096 - 120, "\(file): \(Self.size(file)) bytes")
            numbers += try Self.numbers(in: file)
        }
        numbers += try Self.numbers(in: path)
        #expect(numbers == Array(0..<2000), "no line lost or repeated between files")
    }

    @Test func rotationKeepsExactlyKeepCopies() throws {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/web.log"
        let feed = try LogFeed.open(LogFileConfig(path: path, maxBytes: 2048, keep: 3))
        Self.write(0..<3000, to: feed)
        feed.finish(timeout: 10)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["web.log", "web.log.1", "web.log.2", "web.log.3"])
        let kept = try [3, 2, 1].flatMap { try Self.numbers(in: path + ".\($0)") } + Self.numbers(in: path)
        #expect(kept.last == 2999 && kept == Array(kept.first!...2999), "the newest lines, contiguous")
    }

    @Test func aReopenAfterAnExternalRenameWritesToANewFile() throws {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/web.log"
        let feed = try LogFeed.open(LogFileConfig(path: path, maxBytes: 0, keep: 0))
        Self.write(0..<10, to: feed)
        #expect(EndToEnd.Polling.blockingUntil(timeout: 10) {
            (try? String(contentsOfFile: path, encoding: .utf8))?.filter { $0 == "\n" }.count == 10
        }, "the first lines are written")
        #expect(rename(path, path + ".old") == 0)
        Self.write(10..<15, to: feed)
        #expect(try feed.reopen())
        Self.write(15..<20, to: feed)
        feed.finish(timeout: 10)
        #expect(try Self.numbers(in: path + ".old") == Array(0..<15), "lines before the reopen follow the renamed file")
        #expect(try Self.numbers(in: path) == Array(15..<20), "lines after it go to a new file at the path")
        #expect(try LogFeed.open(.standardError).reopen() == false, "stderr has no path to reopen")
    }

    @Test func aSinkThatCannotRotateSaysSoOnceAndWritesOn() throws {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/web.log"
        // A directory where the first copy must go: the rename fails (EISDIR).
        try FileManager.default.createDirectory(atPath: path + ".1", withIntermediateDirectories: false)
        let feed = try LogFeed.open(LogFileConfig(path: path, maxBytes: 1024, keep: 1))
        Self.write(0..<200, to: feed)
        feed.finish(timeout: 10)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let complaints = text.split(separator: "\n").filter { $0.contains("cannot rotate \(path)") }
        #expect(complaints.count == 1 && complaints[0].contains("writing on without rotating"), "\(complaints)")
        #expect(text.split(separator: "\n").filter { $0.contains(" web#0[7] stdout: line ") }.count == 200)
    }
}

@Suite struct LogSinkTests {
    @Test func linesDroppedAtTheEndOfABurstAreToldWithoutWaitingForAnotherLine() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        // The writer blocks on the pipe until the test reads it: the queue
        // (64 KiB) fills and the rest of the burst is dropped. Once the test
        // reads, every line is written or told of in a marker, with no
        // further line to carry the marker.
        let sink = LogSink(.descriptor(fds[1], name: "the test's pipe"), format: .text, capacity: 64 * 1024)
        let total = 20_000
        for batch in stride(from: 0, to: total, by: 100) {
            var lines = Array((batch..<(batch + 100)).map { "line \($0)\n" }.joined().utf8)
            sink.write(&lines)
        }
        var text = ""
        let marker = " lines dropped: the test's pipe not draining"
        /// Lines read, and lines the markers read so far say were dropped.
        func accounted() -> (lines: Int, dropped: Int) {
            let lines = text.split(separator: "\n")
            let markers = lines.filter { $0.hasSuffix(marker) }
            return (lines.count - markers.count, markers.compactMap { Int($0.split(separator: " ")[3]) }.reduce(0, +))
        }
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        let complete = EndToEnd.Polling.blockingUntil(timeout: 10) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while case let count = read(fds[0], &buffer, buffer.count), count > 0 { text += String(decoding: buffer[..<count], as: UTF8.self) }
            let (lines, dropped) = accounted()
            return lines + dropped == total
        }
        sink.finish(timeout: 5)
        close(fds[1])
        let (lines, dropped) = accounted()
        #expect(complete && dropped > 0, "every line written or told of: \(lines) + \(dropped) dropped; \(text.suffix(200))")
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("line ") }.count == lines)
    }

    @Test func aFloodsLargeBuffersAreFreedOnceItIsOver() throws {
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        let sink = LogSink(.descriptor(devNull, name: "/dev/null"), format: .text, capacity: LogSink.groupFileCapacity)
        let line = Array(String(repeating: "x", count: 99).utf8) + [UInt8(ascii: "\n")]
        // A flood: 1 MiB buffers handed over as fast as the loop would, each given back as a spare.
        for _ in 0..<64 {
            var lines = [UInt8]()
            lines.reserveCapacity(1 << 20)
            while lines.count + line.count <= 1 << 20 { lines += line }
            sink.write(&lines)
        }
        let bound = LogSink.spareBuffers * LogSink.quietBufferCapacity
        #expect(EndToEnd.Polling.blockingUntil(timeout: 10) { sink.spareCapacity <= bound },
                "a quiet sink keeps at most \(bound) bytes of spare buffers, not the flood's: \(sink.spareCapacity)")
        sink.finish(timeout: 5)
    }
}
