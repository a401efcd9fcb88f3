import Testing
@testable import DaemonShell
@testable import SupervisorCore

@Suite struct ChildOutputTests {
    /// The lines `bytes` completes, as text.
    static func lines(_ output: inout ChildOutput, _ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        output.split(bytes) { lines.append(String(decoding: $0, as: UTF8.self)) }
        return lines
    }

    static func rest(_ output: inout ChildOutput) -> [String] {
        var lines: [String] = []
        output.finish { lines.append(String(decoding: $0, as: UTF8.self)) }
        return lines
    }

    @Test func splitsLinesAcrossReadsAndDropsCarriageReturns() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stdout)
        #expect(Self.lines(&output, Array("one\r\ntw".utf8)) == ["one"])
        #expect(Self.lines(&output, Array("o\nthree".utf8)) == ["two"])
        #expect(Self.rest(&output) == ["three"])
        #expect(Self.rest(&output) == [])
    }

    @Test func cutsALineThatNeverEndsIntoBoundedPieces() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stderr)
        let limit = ChildOutput.maximumLine
        let pieces = Self.lines(&output, [UInt8](repeating: UInt8(ascii: "x"), count: 2 * limit + 10))
        #expect(pieces.count == 2)
        #expect(pieces.allSatisfy { $0.hasSuffix("[line cut at 16 KiB]") && $0.hasPrefix(String(repeating: "x", count: limit)) })
        #expect(Self.lines(&output, Array("y\n".utf8)) == [String(repeating: "x", count: 10) + "y"])
    }

    @Test func aLongLineReadWholeIsCutToo() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stdout)
        let limit = ChildOutput.maximumLine
        let pieces = Self.lines(&output, [UInt8](repeating: UInt8(ascii: "x"), count: limit + 3) + Array("\nnext\n".utf8))
        #expect(pieces.count == 3 && pieces[0].hasSuffix("[line cut at 16 KiB]") && pieces[1] == "xxx" && pieces[2] == "next")
    }

    @Test func aLineOfExactlyTheLimitIsNotMarkedAsCut() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stdout)
        let line = String(repeating: "z", count: ChildOutput.maximumLine)
        #expect(Self.lines(&output, Array((line + "\n").utf8)) == [line])
    }

    @Test func labelsSpellTheWorkerOneWay() {
        let output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 4711, stream: .stderr)
        #expect(output.label == "web#0[4711]")
        #expect(String(decoding: output.source.textPrefix, as: UTF8.self) == "web#0[4711] stderr: ")
    }
}
