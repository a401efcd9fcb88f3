import Shared
import SupervisorCore

/// Splits a child's stdout or stderr pipe into lines for the daemon's log.
///
/// Lines are cut at 16 KiB so a child that never prints a newline cannot make
/// the master buffer without bound; what is left at end of file is flushed as
/// a last line.
struct ChildOutput {
    static let maximumLine = 16 * 1024

    let worker: WorkerRef
    let pid: Int32
    let stream: LogEntry.Stream
    /// The group's `outputBytesPerSecond` (0: no limit).
    let bytesPerSecond: Int
    private var partial: [UInt8] = []

    init(worker: WorkerRef, pid: Int32, stream: LogEntry.Stream, bytesPerSecond: Int = 0) {
        self.worker = worker
        self.pid = pid
        self.stream = stream
        self.bytesPerSecond = bytesPerSecond
    }

    /// `web#0[4711]`: what every line of this stream is labelled with in the log.
    var label: String { "\(worker)[\(pid)]" }

    /// Appends bytes and returns the complete lines they finish.
    mutating func append(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        var rest = bytes[...]
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            partial += rest[..<newline]
            rest = rest[rest.index(after: newline)...]
            lines += cutOversized()
            lines.append(Self.text(partial[...]))
            partial.removeAll(keepingCapacity: true)
        }
        partial += rest
        return lines + cutOversized()
    }

    /// Cuts `maximumLine`-byte pieces off the front of an overlong line.
    private mutating func cutOversized() -> [String] {
        var pieces: [String] = []
        while partial.count > Self.maximumLine {
            pieces.append(Self.text(partial[..<Self.maximumLine]) + " [line cut at 16 KiB]")
            partial.removeFirst(Self.maximumLine)
        }
        return pieces
    }

    /// The unterminated rest, at end of file.
    mutating func finish() -> String? {
        defer { partial.removeAll() }
        return partial.isEmpty ? nil : Self.text(partial[...])
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes, as: UTF8.self)
    }
}
