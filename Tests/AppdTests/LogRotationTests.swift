import Foundation
import Glibc
import Testing
@testable import DaemonShell
@testable import Shared
@testable import SupervisorCore

/// The pure parts of log files: timestamps, where a rotation cuts, what it
/// renames, how lines are written in each format.
@Suite struct LogRotationTests {
    static func lines(_ texts: String...) -> ArraySlice<UInt8> { Array(texts.map { $0 + "\n" }.joined().utf8)[...] }

    @Test func timestampsAreUTCWithMillisecondsAndAZ() {
        #expect(UTCTimestamp.text(0) == "1970-01-01T00:00:00.000Z")
        #expect(UTCTimestamp.text(1_796_041_697.514) == "2026-11-30T12:28:17.514Z")
        #expect(UTCTimestamp.text(951_782_400.999) == "2000-02-29T00:00:00.999Z", "a leap day")
        #expect(UTCTimestamp.text(4_107_542_399.5) == "2100-02-28T23:59:59.500Z", "2100 is not a leap year")
        #expect(UTCTimestamp.text(-5) == "1970-01-01T00:00:00.000Z")
        // Every day of four years against the C library.
        for day in stride(from: 19_000, to: 20_461, by: 1) {
            var seconds = time_t(day * 86_400 + 45_296)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            let expected = String(format: "%04d-%02d-%02dT12:34:56.000Z", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday)
            #expect(UTCTimestamp.text(Double(seconds)) == expected)
        }
    }

    @Test func whatFitsGoesWholeAndTheRestWaitsForANewFile() {
        let rotation = LogRotation(maxBytes: 10, keep: 2)
        let chunk = Self.lines("aaaa", "bbbb", "cc")  // 5 + 5 + 3 bytes
        #expect(rotation.bytesToWrite(of: chunk, intoFileOf: 0) == 10, "two whole lines fill the file exactly")
        #expect(rotation.bytesToWrite(of: chunk, intoFileOf: 4) == 5, "one whole line fits beside 4 bytes")
        #expect(rotation.bytesToWrite(of: chunk, intoFileOf: 6) == 0, "nothing fits: rotate first")
        #expect(rotation.bytesToWrite(of: chunk.dropFirst(10), intoFileOf: 7) == 3)
        #expect(rotation.bytesToWrite(of: Self.lines("a line longer than ten", "x"), intoFileOf: 0) == 23,
                "an empty file takes one line whole, however long")
        #expect(LogRotation(maxBytes: 0, keep: 5).bytesToWrite(of: chunk, intoFileOf: 1 << 40) == chunk.count, "0: never rotated")
    }

    @Test func aRotationMovesTheOldestCopyFirst() {
        #expect(LogRotation(maxBytes: 10, keep: 3).steps(for: "web.log") == [
            .remove("web.log.3"),
            .rename(from: "web.log.2", to: "web.log.3"), .rename(from: "web.log.1", to: "web.log.2"), .rename(from: "web.log", to: "web.log.1"),
        ], "the oldest copy is removed first: no rename replaces a file (ext4 would flush the renamed one to disk)")
        #expect(LogRotation(maxBytes: 10, keep: 1).steps(for: "web.log") == [.remove("web.log.1"), .rename(from: "web.log", to: "web.log.1")])
        #expect(LogRotation(maxBytes: 10, keep: 0).steps(for: "web.log") == [.remove("web.log")])
    }

    @Test func aReadsTextLinesAreWrittenInOnePassAsLineByLine() {
        let stamp = LogStamp(seconds: 1_796_041_697.514)
        let source = LineSource(worker: WorkerRef(group: "web", id: 0), pid: 4711, stream: .stdout)
        let read = Array("one\n\nthree\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 40)
        let spans = [LineSpan(range: 0..<3), LineSpan(range: 4..<4), LineSpan(range: 5..<10), LineSpan(range: 11..<51, cut: true)]
        var lines: [UInt8] = Array("before\n".utf8)
        read.withUnsafeBufferPointer { LogLineFormat.appendGroupLines(spans, of: $0, from: source, at: stamp, as: .text, to: &lines) }
        let prefix = "2026-11-30T12:28:17.514Z web#0[4711] stdout: "
        #expect(String(decoding: lines, as: UTF8.self) == "before\n" + prefix + "one\n" + prefix + "\n" + prefix + "three\n"
            + prefix + String(repeating: "x", count: 40) + " [line cut at 16 KiB]\n")
        // Iterated rather than copied in place, the sequence gives the same bytes.
        let text = read.withUnsafeBufferPointer { buffer in
            let lines = TextLines(spans: spans[...], buffer: buffer, prefix: Array(prefix.utf8))
            return (Array(lines.makeIterator()), lines.count)
        }
        #expect(String(decoding: text.0, as: UTF8.self) == String(decoding: lines.dropFirst(7), as: UTF8.self) && text.1 == lines.count - 7)
        var none: [UInt8] = []
        read.withUnsafeBufferPointer { LogLineFormat.appendGroupLines([], of: $0, from: source, at: stamp, as: .text, to: &none) }
        #expect(none.isEmpty)
    }

    @Test func aReadsJSONLinesAreWhatEncodingEachOnItsOwnGives() {
        let stamp = LogStamp(seconds: 1_796_041_697.514)
        let source = LineSource(worker: WorkerRef(group: "web", id: 2), pid: 4711, stream: .stderr)
        let lines: [[UInt8]] = [Array("plain line 1".utf8), Array("say \"hi\"".utf8), [], Array("tab\there".utf8), Array("back\\slash".utf8),
                                Array("caf\u{e9}".utf8), [0x61, 0xFF, 0x62], Array("plain line 2".utf8), [0x7F, 0x20], Array("plain line 3".utf8)]
        var read: [UInt8] = []
        var spans: [LineSpan] = []
        for (index, line) in lines.enumerated() {
            spans.append(LineSpan(range: read.count..<(read.count + line.count), cut: index == 7))
            read += line + [UInt8(ascii: "\n")]
        }
        var batch: [UInt8] = []
        var single: [UInt8] = []
        read.withUnsafeBufferPointer { buffer in
            LogLineFormat.appendGroupLines(spans, of: buffer, from: source, at: stamp, as: .json, to: &batch)
            for span in spans { LogLineFormat.appendJSONLine(span.text(in: buffer), from: source, at: stamp, to: &single) }
            #expect(spans.map { LogLineFormat.isPlainJSON($0, of: buffer) } == [true, false, true, false, false, false, false, true, true, true])
        }
        #expect(String(decoding: batch, as: UTF8.self) == String(decoding: single, as: UTF8.self))
        #expect(batch == single)
        #expect(String(decoding: batch, as: UTF8.self).hasPrefix(#"{"time":"2026-11-30T12:28:17.514Z","group":"web","id":2,"pid":4711,"stream":"stderr","line":"plain line 1"}"# + "\n"))
    }

    @Test func linesAreWrittenInEitherFormat() throws {
        let stamp = LogStamp(seconds: 1_796_041_697.514)
        let source = LineSource(worker: WorkerRef(group: "web", id: 0), pid: 4711, stream: .stderr)
        var text: [UInt8] = []
        LogLineFormat.appendGroupLine(Array("Traceback \"x\"".utf8), from: source, at: stamp, as: .text, to: &text)
        #expect(String(decoding: text, as: UTF8.self) == "2026-11-30T12:28:17.514Z web#0[4711] stderr: Traceback \"x\"\n")
        var json: [UInt8] = []
        LogLineFormat.appendGroupLine(Array("Traceback \"x\"".utf8), from: source, at: stamp, as: .json, to: &json)
        #expect(String(decoding: json, as: UTF8.self)
            == #"{"time":"2026-11-30T12:28:17.514Z","group":"web","id":0,"pid":4711,"stream":"stderr","line":"Traceback \"x\""}"# + "\n")
        var event: [UInt8] = []
        LogLineFormat.appendGroupLine(Array("restarts in 0.2s".utf8), from: LineSource(worker: WorkerRef(group: "web", id: 1), pid: nil, stream: .appd),
                                      at: stamp, as: .text, to: &event)
        #expect(String(decoding: event, as: UTF8.self) == "2026-11-30T12:28:17.514Z web#1 appd: restarts in 0.2s\n")
        var daemon: [UInt8] = []
        LogLineFormat.appendDaemonLine(level: "warning", "worker web#0[4711] exited 3", worker: (WorkerRef(group: "web", id: 0), 4711),
                                       at: stamp, as: .json, to: &daemon)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(daemon)) as? [String: Any])
        #expect(object["stream"] as? String == "appd" && object["level"] as? String == "warning" && object["pid"] as? Int == 4711)
        #expect(object["line"] as? String == "worker web#0[4711] exited 3" && object["time"] as? String == "2026-11-30T12:28:17.514Z")
    }
}
