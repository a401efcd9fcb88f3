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

    /// Keeps a line, dropping the oldest while over a limit. A text longer
    /// than the whole ring (never: lines are cut at 16 KiB) keeps its end.
    mutating func append(sequence: UInt64, time: Double, id: Int, pid: Int32?, stream: LogEntry.Stream,
                         text bytes: some Collection<UInt8>) {
        let kept = bytes.count <= limits.bytes ? ArraySlice(bytes) : ArraySlice(bytes).suffix(limits.bytes)
        while count > 0, count >= limits.lines || textBytes + kept.count > limits.bytes { dropOldest() }
        let start = (textStart + textBytes) % limits.bytes
        storeText(kept, at: start)
        textBytes += kept.count
        let line = Line(sequence: sequence, time: time, id: id, pid: pid, stream: stream, start: start, count: kept.count)
        if count == lines.count {
            // Every slot is in use: grow, with the oldest first so the new slot is the ring's end.
            if head != 0 {
                lines = Array(lines[head...] + lines[..<head])
                head = 0
            }
            lines.append(line)
        } else {
            lines[(head + count) % lines.count] = line
        }
        count += 1
    }

    private mutating func dropOldest() {
        let oldest = lines[head]
        textStart = (oldest.start + oldest.count) % limits.bytes
        textBytes -= oldest.count
        head = (head + 1) % lines.count
        count -= 1
    }

    /// Writes at `start`, wrapping at the ring's end; the ring grows until
    /// it first wraps, so before that `start` is always its end.
    private mutating func storeText(_ bytes: ArraySlice<UInt8>, at start: Int) {
        var rest = bytes
        var position = start
        while !rest.isEmpty {
            let piece = rest.prefix(limits.bytes - position)
            if position == text.count {
                text.append(contentsOf: piece)
            } else {
                text.replaceSubrange(position..<(position + piece.count), with: piece)
            }
            rest = rest.dropFirst(piece.count)
            position = (position + piece.count) % limits.bytes
        }
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
    private func bytes(of line: Line) -> ArraySlice<UInt8> {
        let end = line.start + line.count
        return end <= limits.bytes ? text[line.start..<end] : text[line.start...] + text[..<(end - limits.bytes)]
    }

    /// The same lines under new limits (a reload): the newest that fit.
    func resized(to limits: HistoryLimits) -> GroupHistory {
        guard limits != self.limits else { return self }
        var resized = GroupHistory(limits: limits)
        for line in all {
            resized.append(sequence: line.sequence, time: line.time, id: line.id, pid: line.pid, stream: line.stream,
                           text: bytes(of: line))
        }
        return resized
    }
}
