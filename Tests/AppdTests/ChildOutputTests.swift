import Testing
@testable import DaemonShell
@testable import SupervisorCore

@Suite struct ChildOutputTests {
    /// Reads as `WorkerOutputs` does: the unfinished line carried, then the read.
    struct Reader {
        var partial: [UInt8] = []

        mutating func lines(_ read: [UInt8], endOfFile: Bool = false) -> [String] {
            let bytes = partial + read
            var spans: [LineSpan] = []
            return bytes.withUnsafeBufferPointer { buffer in
                let rest = ChildOutput.lines(in: buffer, endOfFile: endOfFile, into: &spans)
                partial = Array(bytes[rest...])
                return spans.map { String(decoding: $0.text(in: buffer), as: UTF8.self) }
            }
        }

        mutating func lines(_ text: String) -> [String] { lines(Array(text.utf8)) }
    }

    @Test func splitsLinesAcrossReadsAndDropsCarriageReturns() {
        var reader = Reader()
        #expect(reader.lines("one\r\ntw") == ["one"])
        #expect(reader.lines("o\n\nthree") == ["two", ""])
        #expect(reader.lines([], endOfFile: true) == ["three"])
        #expect(reader.lines([], endOfFile: true) == [])
    }

    @Test func cutsALineThatNeverEndsIntoBoundedPieces() {
        var reader = Reader()
        let limit = ChildOutput.maximumLine
        let pieces = reader.lines([UInt8](repeating: UInt8(ascii: "x"), count: 2 * limit + 10))
        #expect(pieces.count == 2 && reader.partial.count == 10)
        #expect(pieces.allSatisfy { $0 == String(repeating: "x", count: limit) + " [line cut at 16 KiB]" })
        #expect(reader.lines("y\n") == [String(repeating: "x", count: 10) + "y"])
    }

    @Test func aLongLineReadWholeIsCutToo() {
        var reader = Reader()
        let limit = ChildOutput.maximumLine
        let pieces = reader.lines([UInt8](repeating: UInt8(ascii: "x"), count: limit + 3) + Array("\r\nnext\n".utf8))
        #expect(pieces.count == 3 && pieces[0].hasSuffix("[line cut at 16 KiB]") && pieces[1] == "xxx" && pieces[2] == "next")
    }

    @Test func aLineOfExactlyTheLimitIsNotMarkedAsCut() {
        var reader = Reader()
        let line = String(repeating: "z", count: ChildOutput.maximumLine)
        #expect(reader.lines(line + "\n") == [line])
        #expect(reader.lines(line) == [] && reader.partial.count == ChildOutput.maximumLine, "an unfinished line of the limit is carried")
    }

    @Test func labelsSpellTheWorkerOneWay() {
        let output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 4711, stream: .stderr)
        #expect(output.label == "web#0[4711]")
        #expect(String(decoding: output.source.textPrefix, as: UTF8.self) == "web#0[4711] stderr: ")
    }
}
