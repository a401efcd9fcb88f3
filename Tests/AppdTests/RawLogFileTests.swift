import Foundation
import Glibc
import Testing
@testable import DaemonShell
@testable import Shared

/// A `raw` log file: the bytes written into its pipe, moved to the file by
/// the kernel, byte for byte, rotated at exactly `maxBytes`, and reopened
/// after an external rename.
@Suite struct RawLogFileTests {
    /// `count` bytes of numbered lines of uneven lengths, so that cuts at
    /// `maxBytes` fall inside lines.
    static func text(lines: Range<Int>) -> [UInt8] {
        Array(lines.map { "line \($0) \(String(repeating: "-", count: $0 % 50))\n" }.joined().utf8)
    }

    /// Writes into the file's pipe as a worker would, in pieces of `piece` bytes.
    static func write(_ bytes: [UInt8], to file: RawLogFile, piece: Int = 1000) {
        for start in stride(from: 0, to: bytes.count, by: piece) {
            let chunk = bytes[start..<min(start + piece, bytes.count)]
            var written = 0
            while written < chunk.count {
                let count = chunk.withUnsafeBytes { Glibc.write(file.writeEnd, $0.baseAddress! + written, $0.count - written) }
                #expect(count > 0, "the pipe takes the bytes")
                guard count > 0 else { return }
                written += count
            }
        }
    }

    static func contents(_ path: String) -> [UInt8] { Array((FileManager.default.contents(atPath: path)) ?? Data()) }

    /// Where a raw file's thread says what went wrong: appd's log (stderr here).
    let notices = try! LogFeed.open(.standardError)

    /// 3000 lines written into a raw file at `logs/web.log` rotated as
    /// said, and its thread finished.
    func filled(maxBytes: Int, keep: Int) throws -> (directory: EndToEnd.TemporaryDirectory, path: String, bytes: [UInt8]) {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/logs/web.log"
        let file = try RawLogFile(LogFileConfig(path: path, maxBytes: maxBytes, keep: keep, format: .raw), notices: notices)
        let bytes = Self.text(lines: 0..<3000)
        Self.write(bytes, to: file)
        file.finish(timeout: 10)
        return (directory, path, bytes)
    }

    @Test func theFileHoldsExactlyTheBytesRotatedAtMaxBytes() throws {
        let (directory, path, bytes) = try filled(maxBytes: 4096, keep: 60)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/logs")
        let copies = names.filter { $0 != "web.log" }.compactMap { Int($0.dropFirst("web.log.".count)) }.sorted()
        #expect(copies == Array(1...copies.count) && copies.count == bytes.count / 4096 - (bytes.count % 4096 == 0 ? 1 : 0),
                "\(bytes.count) bytes make \(copies.count) full copies: \(names.sorted())")
        for copy in copies {
            #expect(Self.contents(path + ".\(copy)").count == 4096, "copy \(copy) holds exactly maxBytes")
        }
        let kept = copies.reversed().flatMap { Self.contents(path + ".\($0)") } + Self.contents(path)
        #expect(kept == bytes, "byte for byte, in order, none lost or repeated between files")
    }

    @Test func rotationKeepsExactlyKeepCopiesOfTheNewestBytes() throws {
        let (directory, path, bytes) = try filled(maxBytes: 2048, keep: 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/logs").sorted() == ["web.log", "web.log.1", "web.log.2", "web.log.3"])
        let kept = [3, 2, 1].flatMap { Self.contents(path + ".\($0)") } + Self.contents(path)
        #expect(kept.count >= 3 * 2048 && kept == Array(bytes.suffix(kept.count)), "the newest \(kept.count) bytes, contiguous")
    }

    /// An unrotated raw file whose first ten lines are in it; the next ten
    /// for the test to write after it did something to the file.
    func fileWithItsFirstLines() throws -> (directory: EndToEnd.TemporaryDirectory, path: String, file: RawLogFile, before: [UInt8], after: [UInt8]) {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/web.log"
        let file = try RawLogFile(LogFileConfig(path: path, maxBytes: 0, keep: 0, format: .raw), notices: notices)
        let before = Self.text(lines: 0..<10)
        Self.write(before, to: file)
        #expect(EndToEnd.Polling.blockingUntil(timeout: 10) { Self.contents(path).count == before.count }, "the first bytes are moved")
        return (directory, path, file, before, Self.text(lines: 10..<20))
    }

    @Test func aReopenAfterAnExternalRenameMovesTheNextBytesToANewFile() throws {
        let (directory, path, file, before, after) = try fileWithItsFirstLines()
        #expect(rename(path, path + ".old") == 0)
        try file.reopen()
        Self.write(after, to: file)
        file.finish(timeout: 10)
        #expect(Self.contents(path + ".old") == before, "what came before the reopen stays in the renamed file")
        #expect(Self.contents(path) == after, "what comes after goes to a new file at the path")
        withExtendedLifetime(directory) {}
    }

    @Test func anExternalCopytruncateIsFollowedNotOverwrittenWithHoles() throws {
        let (directory, path, file, _, after) = try fileWithItsFirstLines()
        #expect(truncate(path, 0) == 0)
        Self.write(after, to: file)
        file.finish(timeout: 10)
        #expect(Self.contents(path) == after, "written from the file's new end, not its old offset")
        withExtendedLifetime(directory) {}
    }

    @Test func aFileThatCannotRotateSaysSoOnceInAppdsLogAndTakesEveryByteOn() throws {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/web.log"
        let daemonLog = try LogFeed.open(LogFileConfig(path: directory.path + "/appd.log", maxBytes: 0, keep: 0))
        // A directory where the first copy must go: the rename fails (EISDIR).
        try FileManager.default.createDirectory(atPath: path + ".1", withIntermediateDirectories: false)
        let file = try RawLogFile(LogFileConfig(path: path, maxBytes: 1024, keep: 1, format: .raw), notices: daemonLog)
        let bytes = Self.text(lines: 0..<200)
        Self.write(bytes, to: file)
        file.finish(timeout: 10)
        daemonLog.finish(timeout: 10)
        #expect(Self.contents(path) == bytes, "every byte, nothing of appd's between them")
        let complaints = String(decoding: Self.contents(directory.path + "/appd.log"), as: UTF8.self).split(separator: "\n")
        #expect(complaints.count == 1 && complaints[0].contains(" warning: cannot rotate \(path): ")
                    && complaints[0].hasSuffix("; writing on without rotating"), "\(complaints)")
    }

    @Test func theFinishWaitsForWhatTheWorkersStillWrite() throws {
        let directory = try EndToEnd.TemporaryDirectory()
        let path = directory.path + "/web.log"
        let file = try RawLogFile(LogFileConfig(path: path, maxBytes: 0, keep: 0, format: .raw), notices: notices)
        // A worker's copy of the write end, as a spawn leaves it.
        let worker = dup(file.writeEnd)
        file.close()
        #expect(file.writeEnd == -1, "new workers no longer get the pipe")
        let bytes = Self.text(lines: 0..<100)
        _ = bytes.withUnsafeBytes { Glibc.write(worker, $0.baseAddress, $0.count) }
        Glibc.close(worker)
        file.finish(timeout: 10)
        #expect(Self.contents(path) == bytes, "what the last worker wrote before it closed its end is in the file")
    }
}
