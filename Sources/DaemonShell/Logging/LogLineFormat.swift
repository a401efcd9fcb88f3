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
                                 at stamp: LogStamp, as format: LogLineStyle, to bytes: inout [UInt8]) {
        switch format {
        case .text:
            bytes.append(contentsOf: TextLines(spans: spans[...], buffer: buffer, prefix: stamp.text + [UInt8(ascii: " ")] + source.textPrefix))
        case .json:
            appendJSONLines(spans, of: buffer, from: source, at: stamp, to: &bytes)
        }
    }

    /// JSON lines: the object around every line of a read is the same but
    /// for the line, so it is made once, and a line that needs no escaping
    /// (printable ASCII without `"` or `\`, as most log lines are) is
    /// written between its two halves in one pass with its neighbours
    /// (`TextLines`); any other line is encoded on its own (`JSONText`),
    /// which gives the same bytes for the plain ones.
    private static func appendJSONLines(_ spans: [LineSpan], of buffer: UnsafeBufferPointer<UInt8>, from source: LineSource,
                                        at stamp: LogStamp, to bytes: inout [UInt8]) {
        var frame: [UInt8] = []
        appendJSONLine([], from: source, at: stamp, to: &frame)
        // `…,"line":""}` and a newline: the prefix ends at the line's opening quote.
        let prefix = Array(frame.dropLast(3))
        let suffix = Array(frame.suffix(3))
        var plain = spans.startIndex
        for index in spans.indices where !isPlainJSON(spans[index], of: buffer) {
            if plain < index {
                bytes.append(contentsOf: TextLines(spans: spans[plain..<index], buffer: buffer, prefix: prefix, suffix: suffix))
            }
            appendJSONLine(spans[index].text(in: buffer), from: source, at: stamp, to: &bytes)
            plain = index + 1
        }
        if plain < spans.endIndex {
            bytes.append(contentsOf: TextLines(spans: spans[plain...], buffer: buffer, prefix: prefix, suffix: suffix))
        }
    }

    /// Whether a line goes into a JSON string as it is: bytes 0x20–0x7F but `"` and `\`.
    static func isPlainJSON(_ span: LineSpan, of buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        var plain = true
        for byte in UnsafeBufferPointer(rebasing: buffer[span.range]) {
            plain = plain && byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
        }
        return plain
    }

    /// One line of a group's as a JSON object, encoded on its own.
    static func appendJSONLine(_ line: [UInt8], from source: LineSource, at stamp: LogStamp, to bytes: inout [UInt8]) {
        var json = JSONText()
        json.beginObject()
        json.key("time")
        json.string(String(decoding: stamp.text, as: UTF8.self))
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
        json.string(String(decoding: line, as: UTF8.self))
        json.endObject()
        bytes.append(contentsOf: json.bytes)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// One line of a group's (appd's own about a worker).
    static func appendGroupLine(_ text: [UInt8], from source: LineSource, at stamp: LogStamp, as format: LogLineStyle,
                                to bytes: inout [UInt8]) {
        text.withUnsafeBufferPointer {
            appendGroupLines([LineSpan(range: 0..<text.count)], of: $0, from: source, at: stamp, as: format, to: &bytes)
        }
    }

    /// appd's own line; `worker`: the worker (and process) it is about.
    static func appendDaemonLine(level: String, _ text: String, worker: (ref: WorkerRef, pid: Int32?)? = nil,
                                 at stamp: LogStamp, as format: LogLineStyle, to bytes: inout [UInt8]) {
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

/// The lines of one read as a log writes them (`prefix`, the line, its cut
/// marker, `suffix`: a newline, or the end of a JSON object and a newline,
/// for each span), as a sequence of bytes whose count is known
/// before it is made. `Array.append(contentsOf:)` makes room for
/// `underestimatedCount` bytes and has `_copyContents` fill it, so the
/// lines are written straight into the log's buffer, with no zeroing of
/// the room first and no append per piece. Iterated any other way it gives
/// the same bytes, one by one.
struct TextLines: Sequence {
    let spans: ArraySlice<LineSpan>
    let buffer: UnsafeBufferPointer<UInt8>
    let prefix: [UInt8]
    let suffix: [UInt8]
    /// Bytes in all.
    let count: Int

    init(spans: ArraySlice<LineSpan>, buffer: UnsafeBufferPointer<UInt8>, prefix: [UInt8], suffix: [UInt8] = [UInt8(ascii: "\n")]) {
        self.spans = spans
        self.buffer = buffer
        self.prefix = prefix
        self.suffix = suffix
        var count = 0
        for span in spans { count += prefix.count + span.range.count + (span.cut ? LineSpan.cutMarker.count : 0) + suffix.count }
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
        var at = start
        prefix.withUnsafeBufferPointer { prefix in
            suffix.withUnsafeBufferPointer { suffix in
                LineSpan.cutMarker.withUnsafeBufferPointer { marker in
                    for span in spans {
                        at = Self.copy(prefix, to: at)
                        if let source = buffer.baseAddress, !span.range.isEmpty {
                            at.initialize(from: source + span.range.lowerBound, count: span.range.count)
                            at += span.range.count
                        }
                        if span.cut { at = Self.copy(marker, to: at) }
                        if suffix.count == 1 {
                            at.initialize(to: suffix[0])
                            at += 1
                        } else {
                            at = Self.copy(suffix, to: at)
                        }
                    }
                }
            }
        }
        return at - start
    }

    private static func copy(_ bytes: UnsafeBufferPointer<UInt8>, to at: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard let base = bytes.baseAddress else { return at }
        at.initialize(from: base, count: bytes.count)
        return at + bytes.count
    }
}
