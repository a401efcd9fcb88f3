import Testing
@testable import DaemonShell
@testable import SupervisorCore

@Suite struct ChildOutputTests {
    @Test func splitsLinesAcrossReadsAndDropsCarriageReturns() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stdout)
        #expect(output.append(Array("one\r\ntw".utf8)) == ["one"])
        #expect(output.append(Array("o\nthree".utf8)) == ["two"])
        #expect(output.finish() == "three")
        #expect(output.finish() == nil)
    }

    @Test func cutsALineThatNeverEndsIntoBoundedPieces() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stderr)
        let limit = ChildOutput.maximumLine
        let pieces = output.append([UInt8](repeating: UInt8(ascii: "x"), count: 2 * limit + 10))
        #expect(pieces.count == 2)
        #expect(pieces.allSatisfy { $0.hasSuffix("[line cut at 16 KiB]") && $0.hasPrefix(String(repeating: "x", count: limit)) })
        #expect(output.append(Array("y\n".utf8)) == [String(repeating: "x", count: 10) + "y"])
    }

    @Test func aLineOfExactlyTheLimitIsNotMarkedAsCut() {
        var output = ChildOutput(worker: WorkerRef(group: "web", id: 0), pid: 1, stream: .stdout)
        let line = String(repeating: "z", count: ChildOutput.maximumLine)
        #expect(output.append(Array((line + "\n").utf8)) == [line])
    }
}
