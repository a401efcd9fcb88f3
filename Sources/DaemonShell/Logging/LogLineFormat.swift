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
            let prefix = stamp.text + [UInt8(ascii: " ")] + source.textPrefix
            for span in spans {
                bytes.append(contentsOf: prefix)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[span.range]))
                if span.cut { bytes.append(contentsOf: LineSpan.cutMarker) }
                bytes.append(UInt8(ascii: "\n"))
            }
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
