import Glibc
import Shared
import SupervisorCore

/// One of a child's output pipes, as the master reads it: whose it is, and
/// the unfinished line carried from one read to the next. `lines(in:)`
/// finds the lines of a read.
///
/// Lines are cut at 16 KiB so a child that never prints a newline cannot make
/// the master buffer without bound; what is left at end of file is a last
/// line. A carriage return before the newline is dropped.
struct ChildOutput {
    static let maximumLine = 16 * 1024

    let worker: WorkerRef
    let pid: Int32
    /// The group, worker, process and stream every line of this pipe is from.
    let source: LineSource
    /// The group's `outputBytesPerSecond` (0: no limit).
    let bytesPerSecond: Int
    /// The unfinished line at the end of the last read (at most `maximumLine`
    /// bytes): the next read goes on from it.
    var partial: [UInt8] = []
    /// Bytes its next read asks for (`WorkerOutputs.minimumRead` to `maximumRead`).
    var readSize = WorkerOutputs.minimumRead
    /// Its capacity was raised once its worker outpaced the reads.
    var grown = false

    init(worker: WorkerRef, pid: Int32, stream: LogEntry.Stream, bytesPerSecond: Int = 0) {
        self.worker = worker
        self.pid = pid
        self.source = LineSource(worker: worker, pid: pid, stream: stream)
        self.bytesPerSecond = bytesPerSecond
    }

    var stream: LogEntry.Stream { source.stream }

    /// `web#0[4711]`: how every log names the worker this pipe is from.
    var label: String { "\(worker)[\(pid)]" }

    /// The lines in `bytes` (the partial line carried over, then what was
    /// read), appended to `lines`; returns where the unfinished rest begins
    /// (`bytes.count` at end of file, where the rest is a last line).
    /// Pieces of `maximumLine` bytes are cut off a longer line, also off an
    /// unfinished one, so what is carried stays bounded.
    static func lines(in bytes: UnsafeBufferPointer<UInt8>, endOfFile: Bool = false, into lines: inout [LineSpan]) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var start = 0
        while start < bytes.count, let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start) {
            let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            start = appendLine(start..<newline, of: bytes, to: &lines) + 1
        }
        if endOfFile, start < bytes.count { return appendLine(start..<bytes.count, of: bytes, to: &lines) }
        while bytes.count - start > maximumLine {
            lines.append(LineSpan(range: start..<(start + maximumLine), cut: true))
            start += maximumLine
        }
        return start
    }

    /// A complete line: `maximumLine`-byte pieces cut off its front, then the
    /// rest without a trailing carriage return. Returns where it ends.
    private static func appendLine(_ line: Range<Int>, of bytes: UnsafeBufferPointer<UInt8>, to lines: inout [LineSpan]) -> Int {
        var start = line.lowerBound
        while line.upperBound - start > maximumLine {
            lines.append(LineSpan(range: start..<(start + maximumLine), cut: true))
            start += maximumLine
        }
        let end = line.upperBound > start && bytes[line.upperBound - 1] == UInt8(ascii: "\r") ? line.upperBound - 1 : line.upperBound
        lines.append(LineSpan(range: start..<end))
        return line.upperBound
    }
}
