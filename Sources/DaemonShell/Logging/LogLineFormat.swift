import Glibc
import Shared
import SupervisorCore

/// Who a line in a group's log is from: a worker's stdout or stderr, or
/// appd speaking about that worker (`appd`).
struct LineSource: Equatable {
    let worker: WorkerRef
    /// nil for appd's lines about a worker with no process (a spawn
    /// failure, a backoff).
    let pid: Int32?
    let stream: LogEntry.Stream
    /// `web#0[4711] stdout: `, what a text line puts between its time and its text.
    let textPrefix: [UInt8]

    init(worker: WorkerRef, pid: Int32?, stream: LogEntry.Stream) {
        self.worker = worker
        self.pid = pid
        self.stream = stream
        let label = "\(worker)" + (pid.map { "[\($0)]" } ?? "")
        textPrefix = Array("\(label) \(stream.rawValue): ".utf8)
    }

    var group: String { worker.group }
    var id: Int { worker.id }
}

/// How a line is written to a log, in its `LogFormat`. Pure, so the loop
/// and a sink's writer thread (its own notices) write the same shapes:
///
/// - a group's line (what a worker printed, or appd's line about it), as
///   `appctl logs` shows it: `2026-12-01T12:28:17.514Z web#0[4711] stdout: listening`,
///   or `{"time":"…","group":"web","id":0,"pid":4711,"stream":"stdout","line":"listening"}`;
/// - appd's own line in its log: `2026-12-01T12:28:17.514Z appd[4700] warning: worker web#0[4711] exited 3 after 2s`,
///   or `{"time":"…","stream":"appd","level":"warning","line":"…","group":"web","id":0,"pid":4711}`.
enum LogLineFormat {
    /// The lines `spans` mark in `buffer` (one read of a worker's pipe),
    /// all from `source` at `stamp`.
    static func appendGroupLines(_ spans: [LineSpan], of buffer: UnsafeBufferPointer<UInt8>, from source: LineSource,
                                 at stamp: LogStamp, as format: LogFormat, to bytes: inout [UInt8]) {
        switch format {
        case .text:
            appendTextLines(spans, of: buffer, prefix: stamp.text + [UInt8(ascii: " ")] + source.textPrefix, to: &bytes)
        case .json:
            let time = String(decoding: stamp.text, as: UTF8.self)
            for span in spans {
                var json = JSONText()
                json.beginObject()
                json.key("time")
                json.string(time)
                json.key("group")
                json.string(source.group)
                json.key("id")
                json.integer(source.id)
                if let pid = source.pid {
                    json.key("pid")
                    json.integer(pid)
                }
                json.key("stream")
                json.string(source.stream.rawValue)
                json.key("line")
                json.string(String(decoding: span.text(in: buffer), as: UTF8.self))
                json.endObject()
                bytes.append(contentsOf: json.bytes)
                bytes.append(UInt8(ascii: "\n"))
            }
        }
    }

    /// `prefix`, the line, a newline, for every line, written in one pass
    /// straight into `bytes`' room (`TextLines`): a flood of a million lines
    /// a second costs two copies per line, not three appends.
    private static func appendTextLines(_ spans: [LineSpan], of buffer: UnsafeBufferPointer<UInt8>, prefix: [UInt8], to bytes: inout [UInt8]) {
        bytes.append(contentsOf: TextLines(spans: spans, buffer: buffer, prefix: prefix))
    }

    /// One line of a group's (appd's own about a worker).
    static func appendGroupLine(_ text: [UInt8], from source: LineSource, at stamp: LogStamp, as format: LogFormat,
                                to bytes: inout [UInt8]) {
        text.withUnsafeBufferPointer {
            appendGroupLines([LineSpan(range: 0..<text.count)], of: $0, from: source, at: stamp, as: format, to: &bytes)
        }
    }

    /// appd's own line; `worker`: the worker (and process) it is about.
    static func appendDaemonLine(level: String, _ text: String, worker: (ref: WorkerRef, pid: Int32?)? = nil,
                                 at stamp: LogStamp, as format: LogFormat, to bytes: inout [UInt8]) {
        switch format {
        case .text:
            bytes.append(contentsOf: stamp.text)
            bytes.append(contentsOf: " appd[\(getpid())] \(level): \(text)".utf8)
        case .json:
            var json = JSONText()
            json.beginObject()
            json.key("time")
            json.string(String(decoding: stamp.text, as: UTF8.self))
            json.key("stream")
            json.string(LogEntry.Stream.appd.rawValue)
            json.key("level")
            json.string(level)
            json.key("line")
            json.string(text)
            if let worker {
                json.key("group")
                json.string(worker.ref.group)
                json.key("id")
                json.integer(worker.ref.id)
                if let pid = worker.pid {
                    json.key("pid")
                    json.integer(pid)
                }
            }
            json.endObject()
            bytes.append(contentsOf: json.bytes)
        }
        bytes.append(UInt8(ascii: "\n"))
    }
}

/// The text lines of one read (`prefix`, the line, its cut marker, a
/// newline, for each span), as a sequence of bytes whose count is known
/// before it is made. `Array.append(contentsOf:)` makes room for
/// `underestimatedCount` bytes and has `_copyContents` fill it, so the
/// lines are written straight into the log's buffer, with no zeroing of
/// the room first and no append per piece. Iterated any other way it gives
/// the same bytes, one by one.
struct TextLines: Sequence {
    let spans: [LineSpan]
    let buffer: UnsafeBufferPointer<UInt8>
    let prefix: [UInt8]
    /// Bytes in all.
    let count: Int

    init(spans: [LineSpan], buffer: UnsafeBufferPointer<UInt8>, prefix: [UInt8]) {
        self.spans = spans
        self.buffer = buffer
        self.prefix = prefix
        var count = 0
        for span in spans { count += prefix.count + span.range.count + (span.cut ? LineSpan.cutMarker.count : 0) + 1 }
        self.count = count
    }

    var underestimatedCount: Int { count }

    func makeIterator() -> IndexingIterator<[UInt8]> {
        guard count > 0 else { return [UInt8]().makeIterator() }
        return Array(unsafeUninitializedCapacity: count) { room, initialized in
            initialized = write(into: room.baseAddress!)
        }.makeIterator()
    }

    func _copyContents(initializing room: UnsafeMutableBufferPointer<UInt8>) -> (IndexingIterator<[UInt8]>, Int) {
        guard count > 0 else { return ([UInt8]().makeIterator(), 0) }
        guard room.count >= count else {
            // Less room than asked for (never from Array): the front, and the rest to iterate.
            let all = Array(makeIterator())
            _ = room.initialize(from: all)
            return (Array(all[room.count...]).makeIterator(), room.count)
        }
        return ([UInt8]().makeIterator(), write(into: room.baseAddress!))
    }

    /// Writes every line at `start` (room for `count` bytes); returns `count`.
    private func write(into start: UnsafeMutablePointer<UInt8>) -> Int {
        let marker = LineSpan.cutMarker
        var at = start
        prefix.withUnsafeBufferPointer { prefix in
            marker.withUnsafeBufferPointer { marker in
                for span in spans {
                    if let prefix = prefix.baseAddress { at.initialize(from: prefix, count: self.prefix.count) }
                    at += self.prefix.count
                    if let source = buffer.baseAddress, !span.range.isEmpty {
                        at.initialize(from: source + span.range.lowerBound, count: span.range.count)
                        at += span.range.count
                    }
                    if span.cut {
                        at.initialize(from: marker.baseAddress!, count: marker.count)
                        at += marker.count
                    }
                    at.initialize(to: UInt8(ascii: "\n"))
                    at += 1
                }
            }
        }
        return at - start
    }
}
