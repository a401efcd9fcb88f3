import Shared

/// The most recent lines of one group, for `appctl logs`: what its workers
/// printed and what appd said about them, in order, bounded by a number of
/// lines and by the bytes of their text (`HistoryLimits`), whichever is
/// reached first. The oldest go first.
///
/// Each group has its own, so a chatty group never evicts a crashing
/// group's traceback. The text lives in one byte ring and each line is a
/// small record pointing into it, so keeping a line costs a copy of its
/// bytes, no allocation; memory grows with use up to the limits.
struct GroupHistory {
    /// One kept line: where its text is in the ring, and what `LogEntry` says about it.
    struct Line: Equatable {
        /// Order across every group's history, for `logs` of several groups.
        var sequence: UInt64
        var time: Double
        var id: Int
        var pid: Int32?
        var stream: LogEntry.Stream
        fileprivate var start: Int
        fileprivate var count: Int
    }

    let limits: HistoryLimits
    /// A ring of the kept lines, oldest at `head`; grows up to `limits.lines`.
    private var lines: [Line] = []
    private var head = 0
    private(set) var count = 0
    /// A ring of the lines' text, `limits.bytes` at most; grows as it fills.
    private var text: [UInt8] = []
    /// Where the oldest line's text starts, and how many bytes are kept.
    private var textStart = 0
    private(set) var textBytes = 0

    init(limits: HistoryLimits) { self.limits = limits }

    /// Who the lines of one `append` are from, and when they came.
    struct Origin {
        var time: Double
        var id: Int
        var pid: Int32?
        var stream: LogEntry.Stream
    }

    /// Keeps the lines `spans` mark in `bytes` (those of one read of a
    /// pipe), numbered from `firstSequence`, dropping the oldest while over
    /// a limit. Only the newest that fit the limits are stored: a read of
    /// 10 000 lines into a history of 2000 copies 2000, not 10 000 to drop
    /// 8000 of them again (the last line is kept however long it is).
    mutating func append(_ spans: [LineSpan], of bytes: UnsafeBufferPointer<UInt8>, firstSequence: UInt64, origin: Origin) {
        var first = spans.count
        var kept = 0
        while first > 0, spans.count - first < limits.lines {
            let span = spans[first - 1]
            kept += span.range.count + (span.cut ? LineSpan.cutMarker.count : 0)
            guard kept <= limits.bytes || first == spans.count else { break }
            first -= 1
        }
        if first > 0 {
            // A line of this read did not fit beside the newer ones: neither does anything older.
            // (The text ring grows at its end only, until it is full.)
            (head, count, textStart, textBytes) = (0, 0, text.count < limits.bytes ? text.count : 0, 0)
        }
        var sequence = firstSequence + UInt64(first)
        for span in spans[first...] {
            keep(UnsafeBufferPointer(rebasing: bytes[span.range]), suffix: span.cut ? LineSpan.cutMarker : [], sequence: sequence, origin: origin)
            sequence += 1
        }
    }

    /// Keeps one line (appd's own).
    mutating func append(_ text: [UInt8], sequence: UInt64, origin: Origin) {
        text.withUnsafeBufferPointer { keep($0, suffix: [], sequence: sequence, origin: origin) }
    }

    /// A text longer than the whole ring (never: lines are cut at 16 KiB)
    /// keeps its front. (Ring positions wrap by a subtraction, not a
    /// division: this runs for every line a flood prints.)
    private mutating func keep(_ bytes: UnsafeBufferPointer<UInt8>, suffix: [UInt8], sequence: UInt64, origin: Origin) {
        let length = min(bytes.count + suffix.count, limits.bytes)
        while count > 0, count >= limits.lines || textBytes + length > limits.bytes { dropOldest() }
        let start = wrapped(textStart + textBytes, at: limits.bytes)
        let fromBytes = min(bytes.count, length)
        let end = store(UnsafeBufferPointer(rebasing: bytes.prefix(fromBytes)), at: start)
        if fromBytes < length {
            _ = suffix.withUnsafeBufferPointer { store(UnsafeBufferPointer(rebasing: $0.prefix(length - fromBytes)), at: end) }
        }
        textBytes += length
        let line = Line(sequence: sequence, time: origin.time, id: origin.id, pid: origin.pid, stream: origin.stream, start: start, count: length)
        if count == lines.count {
            // Every slot is in use: grow, with the oldest first so the new slot is the ring's end.
            if head != 0 {
                lines = Array(lines[head...] + lines[..<head])
                head = 0
            }
            lines.append(line)
        } else {
            lines[wrapped(head + count, at: lines.count)] = line
        }
        count += 1
    }

    private mutating func dropOldest() {
        let oldest = lines[head]
        textStart = wrapped(oldest.start + oldest.count, at: limits.bytes)
        textBytes -= oldest.count
        head = wrapped(head + 1, at: lines.count)
        count -= 1
    }

    /// A position one lap at most past the ring's end, brought back into it.
    private func wrapped(_ position: Int, at size: Int) -> Int { position >= size ? position - size : position }

    /// Writes at `start`, wrapping at the ring's end, and returns where it
    /// ended. The ring grows until it first wraps, so before that `start`
    /// is always its end.
    private mutating func store(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Int {
        var rest = bytes[...]
        var position = start
        while !rest.isEmpty {
            let piece = UnsafeBufferPointer(rebasing: rest.prefix(limits.bytes - position))
            if position == text.count {
                text.append(contentsOf: piece)
            } else {
                text.withUnsafeMutableBufferPointer { ring in
                    (ring.baseAddress! + position).update(from: piece.baseAddress!, count: piece.count)
                }
            }
            rest = rest.dropFirst(piece.count)
            position = wrapped(position + piece.count, at: limits.bytes)
        }
        return position
    }

    /// The last `limit` lines that `matching` accepts, oldest first.
    func last(_ limit: Int, matching: (Line) -> Bool) -> [Line] {
        var found: [Line] = []
        var index = count
        while index > 0, found.count < limit {
            index -= 1
            let line = lines[(head + index) % lines.count]
            if matching(line) { found.append(line) }
        }
        return found.reversed()
    }

    /// Up to `limit` lines that `matching` accepts, oldest first, from the
    /// first one recorded after `sequence` on (sequences only grow, so the
    /// start is found by bisection).
    func lines(after sequence: UInt64, limit: Int, matching: (Line) -> Bool) -> [Line] {
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if lines[(head + middle) % lines.count].sequence <= sequence { low = middle + 1 } else { high = middle }
        }
        var found: [Line] = []
        var index = low
        while index < count, found.count < limit {
            let line = lines[(head + index) % lines.count]
            if matching(line) { found.append(line) }
            index += 1
        }
        return found
    }

    /// Every kept line, oldest first.
    var all: [Line] { last(count) { _ in true } }

    /// A kept line's text.
    func text(of line: Line) -> String { String(decoding: bytes(of: line), as: UTF8.self) }

    /// A kept line's bytes, as the worker wrote them.
    private func bytes(of line: Line) -> [UInt8] {
        let end = line.start + line.count
        return end <= limits.bytes ? Array(text[line.start..<end]) : Array(text[line.start...] + text[..<(end - limits.bytes)])
    }

    /// The same lines under new limits (a reload): the newest that fit.
    func resized(to limits: HistoryLimits) -> GroupHistory {
        guard limits != self.limits else { return self }
        var resized = GroupHistory(limits: limits)
        for line in all {
            resized.append(bytes(of: line), sequence: line.sequence,
                           origin: Origin(time: line.time, id: line.id, pid: line.pid, stream: line.stream))
        }
        return resized
    }
}
