import Shared

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
    private var partial: [UInt8] = []

    init(worker: WorkerRef, pid: Int32, stream: LogEntry.Stream) {
        self.worker = worker
        self.pid = pid
        self.stream = stream
    }

    /// `web#0[4711]`: what every line of this stream is labelled with in the log.
    var label: String { "\(worker)[\(pid)]" }

    /// Appends bytes and returns the complete lines they finish.
    mutating func append(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(Self.text(partial))
                partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(byte)
                if partial.count >= Self.maximumLine {
                    lines.append(Self.text(partial) + " [line cut at 16 KiB]")
                    partial.removeAll(keepingCapacity: true)
                }
            }
        }
        return lines
    }

    /// The unterminated rest, at end of file.
    mutating func finish() -> String? {
        defer { partial.removeAll() }
        return partial.isEmpty ? nil : Self.text(partial)
    }

    private static func text(_ bytes: [UInt8]) -> String {
        var bytes = bytes
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
