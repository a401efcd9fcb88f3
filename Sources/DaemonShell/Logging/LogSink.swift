import Dispatch
import Glibc
import Shared

/// Where a log's lines go: a bounded queue in front of a descriptor or a
/// rotated log file, written by a thread of its own.
///
/// The supervision loop must never block on a write it does not control: a
/// pipe to a log shipper that hung, a terminal in scroll-lock, a log file on
/// a hung mount, a rename while the disk is slow. So the loop only queues;
/// the writer thread does the blocking `write(2)` and the rotation's renames
/// (`RotatingLogFile`). When the queue is full (`capacity` bytes) lines are
/// dropped and counted, and once there is room again one marker line says
/// how many ("appd: 12345 lines dropped: stderr not draining"). The price:
/// what is queued when the master is SIGKILLed is lost, and `finish` gives
/// the writer a bounded time at exit.
///
/// The queue is a list of byte buffers of whole lines, each the loop's
/// staging buffer as it was handed over (taken whole, an empty one given
/// back in its place), which the writer takes all at once: a worker
/// printing 100 MB/s costs the loop one lock per read of its pipe and no
/// copy beyond the formatting, and the writer a `write(2)` per buffer.
/// Written buffers go back to the loop to be filled again, so a flood
/// allocates nothing.
/// (A logger process per sink, s6-log's shape, would cost a pipe copy and a
/// process per log for the same isolation.)
///
/// The writer thread is started after the signals are blocked, so it never
/// takes a signal meant for the loop, and it forks nothing.
final class LogSink: Sendable {
    /// Bytes waiting at most; beyond, lines are dropped and counted. A
    /// group's log file takes bursts of a worker at full speed, so it gets
    /// more than the daemon's own log.
    static let defaultCapacity = 1 << 20
    static let groupFileCapacity = 8 << 20

    enum Destination {
        /// stderr, or whatever it was given: written as it is, never rotated.
        case descriptor(Int32, name: String)
        case file(RotatingLogFile)
    }

    private struct State {
        /// Buffers of whole lines, oldest first, and their bytes in all.
        var pending: [[UInt8]] = []
        var pendingBytes = 0
        /// Empty buffers the writer is done with (their capacity kept), for `write` to give back.
        var spare: [[UInt8]] = []
        var dropped = 0
        /// Every line ever dropped: a counter for metrics, never reset.
        var droppedTotal = 0
        var format: LogLineStyle
        /// For the writer to take: a file the loop reopened, and the buffer
        /// of `pending` it takes over from (what was queued before goes to the old file).
        var reopened: (handle: RotatingLogFile.Handle, at: Int)?
        var rotation: LogRotation?
        var finishing = false
        /// The writer is busy with a flood and comes back for more every
        /// `floodPause` by itself: `write` need not wake it for each batch.
        var writerPolls = false
    }

    /// While a flood lasts, the writer takes what came every 2 ms rather
    /// than being woken for each read of the worker's pipe: a few hundred
    /// larger writes a second instead of thousands of wake-ups for both
    /// threads. Queued lines never wait longer than this, and an idle log
    /// costs nothing: the writer then sleeps until a line comes.
    static let floodPause = 0.002
    /// A write at least this large keeps the writer polling.
    static let floodBatch = 64 * 1024
    /// Empty buffers kept for reuse, at most.
    static let spareBuffers = 4
    /// Once a flood is over, spare buffers larger than this are freed: a
    /// flood's are 1–2 MiB each, and a master with a dozen groups that each
    /// flooded once would keep tens of MiB it no longer needs.
    static let quietBufferCapacity = 64 * 1024

    /// "stderr" or the log file's path, for the drop marker.
    let name: String
    private let capacity: Int
    private let state: PthreadLocked<State>
    /// Touched by the writer thread alone once it runs. The file is kept
    /// apart from the descriptor rather than as the `Destination` it came
    /// in: a multi-payload enum stores its case in the spare bits of the
    /// object pointer, which LeakSanitizer then does not see as a pointer,
    /// and it reported every appd's log file as leaked at exit.
    nonisolated(unsafe) private let file: RotatingLogFile?
    private let descriptor: Int32
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(_ destination: Destination, format: LogLineStyle, capacity: Int = LogSink.defaultCapacity) {
        switch destination {
        case .descriptor(let fd, let name):
            (self.file, self.descriptor, self.name) = (nil, fd, name)
        case .file(let file):
            (self.file, self.descriptor, self.name) = (file, -1, file.path)
        }
        self.capacity = capacity
        self.state = PthreadLocked(State(format: format))
        _ = DetachedThread.start { self.writeUntilFinished() }
    }

    /// Queues whole lines (each ending in a newline) and leaves `lines`
    /// empty; never blocks. What does not fit is dropped, line by line, and
    /// counted. `lines` itself is queued, and an empty buffer the writer is
    /// done with takes its place: the bytes of a flood are not copied again.
    func write(_ lines: inout [UInt8]) {
        guard !lines.isEmpty else { return }
        let wakeWriter = state.withLock { state -> Bool in
            // Waiting for a line, or polling but with a quarter of the queue full.
            let before = state.pendingBytes
            func wakes(_ state: State) -> Bool {
                before == 0 && !state.writerPolls || before < capacity / 4 && state.pendingBytes >= capacity / 4
            }
            if state.dropped == 0, lines.count <= capacity - state.pendingBytes {
                state.pendingBytes += lines.count
                state.pending.append(lines)
                lines = state.spare.popLast() ?? []
                return wakes(state)
            }
            let marker = state.dropped > 0 ? dropMarker(state) : []
            let room = capacity - state.pendingBytes - marker.count
            let fitting = lines.count <= room ? lines.count : room > 0 ? lines[..<room].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0 : 0
            let dropped = lines[fitting...].reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            state.dropped += dropped
            state.droppedTotal += dropped
            guard fitting > 0 else { return false }
            if !marker.isEmpty {
                state.pending.append(marker)
                state.pendingBytes += marker.count
                state.dropped = 0
            }
            state.pending.append(Array(lines[..<fitting]))
            state.pendingBytes += fitting
            return wakes(state)
        }
        lines.removeAll(keepingCapacity: true)
        if wakeWriter { wake.signal() }
    }

    /// The line that says how many lines were dropped since the last one.
    private func dropMarker(_ state: State) -> [UInt8] {
        var marker: [UInt8] = []
        LogLineFormat.appendDaemonLine(level: "warning", "\(state.dropped) lines dropped: \(name) not draining",
                                       at: .now(), as: state.format, to: &marker)
        return marker
    }

    /// Lines dropped since the last marker, for tests and status.
    var droppedLines: Int { state.withLock { $0.dropped } }

    /// Lines dropped since the sink was made, for metrics.
    var droppedLinesTotal: Int { state.withLock { $0.droppedTotal } }

    /// Bytes the spare buffers hold for reuse, for tests.
    var spareCapacity: Int { state.withLock { $0.spare.reduce(0) { $0 + $1.capacity } } }

    /// A file the loop reopened takes the old one's place for what is queued
    /// from now on; what was queued before still goes to the old one, which
    /// the writer then closes.
    func adopt(_ reopened: RotatingLogFile.Handle) {
        state.withLock { state in
            state.reopened?.handle.close()
            state.reopened = (reopened, state.pending.count)
        }
        wake.signal()
    }

    /// New rotation settings and line format (a reload), for what is queued from now on.
    func reconfigure(rotation: LogRotation, format: LogLineStyle) {
        state.withLock { state in
            state.rotation = rotation
            state.format = format
        }
        wake.signal()
    }

    /// At exit: lets the writer write what is queued, for at most `timeout`
    /// seconds (a reader that stalled must not keep the master alive).
    func finish(timeout: Double) {
        close()
        _ = finished.wait(timeout: .now() + timeout)
    }

    /// No longer used (a reload dropped the file): the writer writes what is
    /// queued, closes the file and ends, without anyone waiting for it.
    func close() {
        state.withLock { $0.finishing = true }
        wake.signal()
    }

    /// Writes until the queue is empty, then waits to be woken (`write`
    /// wakes it only when it may be waiting: the queue was empty), or
    /// during a flood, comes back after `floodPause`.
    private func writeUntilFinished() {
        var batch: [[UInt8]] = []
        var polls = false
        while true {
            if polls { _ = wake.wait(timeout: .now() + Self.floodPause) } else { wake.wait() }
            var drained = false
            var written = 0
            while !drained {
                let (reopened, rotation, format, finishing) = state.withLock { state in
                    swap(&batch, &state.pending)
                    state.pendingBytes = 0
                    defer { (state.reopened, state.rotation) = (nil, nil) }
                    return (state.reopened, state.rotation, state.format, state.finishing)
                }
                write(batch, reopened: reopened, rotation: rotation, format: format)
                for index in batch.indices {
                    written += batch[index].count
                    batch[index].removeAll(keepingCapacity: true)
                }
                // Decided under the lock with the queue's state, so a line
                // queued meanwhile either is seen here or wakes the writer.
                // Lines dropped at the end of a burst are told of now, not
                // only once another line comes.
                (drained, polls) = state.withLock { state in
                    while state.spare.count < Self.spareBuffers, let buffer = batch.popLast() { state.spare.append(buffer) }
                    if state.pending.isEmpty, state.dropped > 0 {
                        let marker = dropMarker(state)
                        state.pending = [marker]
                        state.pendingBytes = marker.count
                        state.dropped = 0
                    }
                    state.writerPolls = written >= Self.floodBatch && !state.finishing
                    if !state.writerPolls { state.spare.removeAll { $0.capacity > Self.quietBufferCapacity } }
                    return (state.pending.isEmpty, state.writerPolls)
                }
                batch.removeAll(keepingCapacity: true)
                if drained, finishing {
                    file?.close()
                    finished.signal()
                    return
                }
            }
        }
    }

    private func write(_ batch: [[UInt8]], reopened: (handle: RotatingLogFile.Handle, at: Int)?, rotation: LogRotation?, format: LogLineStyle) {
        guard let file else {
            reopened?.handle.close()
            for buffer in batch { RotatingLogFile.writeFully(descriptor, buffer[...]) }
            return
        }
        if let rotation { file.rotation = rotation }
        for (index, buffer) in batch.enumerated() {
            if let reopened, index == reopened.at { file.adopt(reopened.handle) }
            write(buffer[...], to: file, format: format)
        }
        if let reopened, reopened.at >= batch.count { file.adopt(reopened.handle) }
    }

    /// Whole lines to the file; a rotation that failed is said in the file itself.
    private func write(_ lines: ArraySlice<UInt8>, to file: RotatingLogFile, format: LogLineStyle) {
        guard let problem = file.write(lines) else { return }
        var notice: [UInt8] = []
        LogLineFormat.appendDaemonLine(level: "warning", problem, at: .now(), as: format, to: &notice)
        _ = file.write(notice[...])
    }
}
