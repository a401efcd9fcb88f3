import Shared
import SupervisorCore

/// Splits a child's stdout or stderr pipe into lines, as byte slices of
/// what was read (a line costs no allocation unless it spans two reads).
///
/// Lines are cut at 16 KiB so a child that never prints a newline cannot make
/// the master buffer without bound; what is left at end of file is flushed as
/// a last line. A carriage return before the newline is dropped.
struct ChildOutput {
    static let maximumLine = 16 * 1024
    private static let cutMarker = Array(" [line cut at 16 KiB]".utf8)

    let worker: WorkerRef
    let pid: Int32
    /// The group, worker, process and stream every line of this pipe is from.
    let source: LineSource
    /// The group's `outputBytesPerSecond` (0: no limit).
    let bytesPerSecond: Int
    private var partial: [UInt8] = []

    init(worker: WorkerRef, pid: Int32, stream: LogEntry.Stream, bytesPerSecond: Int = 0) {
        self.worker = worker
        self.pid = pid
        self.source = LineSource(worker: worker, pid: pid, stream: stream)
        self.bytesPerSecond = bytesPerSecond
    }

    var stream: LogEntry.Stream { source.stream }

    /// `web#0[4711]`: how every log names the worker this pipe is from.
    var label: String { "\(worker)[\(pid)]" }

    /// Hands `each` every line `bytes` completes, in order, then keeps the
    /// unfinished rest for the next read.
    mutating func split(_ bytes: [UInt8], _ each: (ArraySlice<UInt8>) -> Void) {
        var rest = bytes[...]
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            if partial.isEmpty {
                Self.emit(rest[..<newline], each)
            } else {
                partial += rest[..<newline]
                Self.emit(partial[...], each)
                partial.removeAll(keepingCapacity: true)
            }
            rest = rest[rest.index(after: newline)...]
        }
        partial += rest
        while partial.count > Self.maximumLine {
            each(Self.cut(partial[..<Self.maximumLine]))
            partial.removeFirst(Self.maximumLine)
        }
    }

    /// The unterminated rest, at end of file.
    mutating func finish(_ each: (ArraySlice<UInt8>) -> Void) {
        guard !partial.isEmpty else { return }
        Self.emit(partial[...], each)
        partial.removeAll()
    }

    /// A complete line: `maximumLine`-byte pieces cut off its front, then
    /// the rest without a trailing carriage return.
    private static func emit(_ line: ArraySlice<UInt8>, _ each: (ArraySlice<UInt8>) -> Void) {
        var line = line
        while line.count > maximumLine {
            each(cut(line.prefix(maximumLine)))
            line = line.dropFirst(maximumLine)
        }
        each(line.last == UInt8(ascii: "\r") ? line.dropLast() : line)
    }

    private static func cut(_ piece: ArraySlice<UInt8>) -> ArraySlice<UInt8> { (Array(piece) + cutMarker)[...] }
}
