import Shared
import SupervisorCore

/// The workers' stdout and stderr pipes: read a bounded slice per turn, cut
/// into lines, held to each worker's output budget, then handed to
/// `GroupLogs` (the group's history, its log file or the daemon's log, and
/// `logs --follow`). No pipe stays open once its worker and whatever it
/// forked have closed it.
///
/// Every pipe is read into one buffer, after the line its last read left
/// unfinished, and its lines are handed on as spans of that buffer
/// (`LineSpan`): a worker printing 100 MB/s costs a read, a scan for
/// newlines and a copy of each line where it is kept, no allocation per line.
final class WorkerOutputs {
    /// Bytes read from one output pipe per loop turn, at least: a line costs
    /// the master a copy into the log's queue (and into the history, for
    /// the newest), so even a read of two-byte `y` lines (32 K of them) is a
    /// short share of a turn; what is left waits in the pipe (the worker
    /// blocks on a full pipe) for the next turn.
    static let minimumRead = 64 * 1024
    /// At most: a pipe of longer lines is read in larger pieces, about
    /// `linesPerRead` lines' worth judged by its last read's lines, so a
    /// flood of 100-byte lines costs a read (and a wake-up of the loop, and
    /// of the log's writer) per MiB rather than per 64 KiB, and a turn stays
    /// bounded by lines, whatever their length.
    static let maximumRead = 1 << 20
    static let linesPerRead = 16 * 1024
    /// The capacity a pipe gets once its worker is seen outpacing the reads
    /// (a read took all it asked for): the worker then writes 1 MiB before
    /// it blocks, and wakes the master once for it. Only those pipes: the
    /// kernel counts pipe pages per user (pipe-user-pages-soft), and an
    /// unprivileged user past it gets small pipes everywhere.
    static let floodPipeCapacity = 1 << 20

    let logs: GroupLogs
    private let loop: EventLoop
    private let log: DaemonLog
    private var pipes: [Int32: (output: ChildOutput, registration: EventLoop.Registration)] = [:]
    /// Each worker's pipes, by pid: an exit (hundreds a second in a restart
    /// storm) finds its worker's two without walking every pipe.
    private var pipesOfWorker: [Int32: [Int32]] = [:]
    /// Each worker's output budget, by pid (`OutputBudget`).
    private var budgets: [Int32: OutputBudget] = [:]
    /// Where every read goes: the pipe's unfinished line, then the read.
    private var readBuffer = [UInt8](repeating: 0, count: ChildOutput.maximumLine + WorkerOutputs.maximumRead)
    /// The lines of the read being handled (kept to save an allocation per read).
    private var spans: [LineSpan] = []
    private var kept: [LineSpan] = []
    /// Lines the output budgets dropped, by group (for metrics).
    private(set) var droppedLines: [String: Int] = [:]

    init(loop: EventLoop, logs: GroupLogs) {
        self.loop = loop
        self.logs = logs
        self.log = logs.daemonLog
    }

    var openPipeCount: Int { pipes.count }

    /// Starts reading the master's end of a worker's pipe; closes it when
    /// it cannot be watched (the worker runs on, its stream not captured).
    func capture(_ fd: Int32, as output: ChildOutput) {
        do {
            let registration = try loop.register(fd: fd, interest: .readable) { [unowned self] _ in read(fd) }
            pipes[fd] = (output, registration)
            pipesOfWorker[output.pid, default: []].append(fd)
        } catch {
            log.error("worker \(output.label): its \(output.stream.rawValue) is not captured: \(error)")
            FileIO.close(fd)
        }
    }

    /// Reads what the pipe holds (up to its `readSize`) and records its
    /// lines; closes the pipe at its end. Says whether anything was read.
    @discardableResult
    private func read(_ fd: Int32) -> Bool {
        guard let (carried, size) = pipes[fd].map({ ($0.output.partial.count, $0.output.readSize) }) else { return false }
        let result = readBuffer.withUnsafeMutableBytes { buffer in
            pipes[fd]!.output.partial.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return FileIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[carried..<(carried + size)]))
        }
        switch result {
        case .count(let count):
            let lines = take(carried + count, from: fd, endOfFile: false)
            if count == size { outpaced(fd) }
            // About `linesPerRead` lines of the length these had.
            let perLine = (carried + count) / max(1, lines)
            pipes[fd]?.output.readSize = min(Self.maximumRead, max(Self.minimumRead, perLine * Self.linesPerRead))
            return true
        case .wouldBlock:
            return false
        case .endOfFile, .failed:
            close(fd)
            return false
        }
    }

    /// The worker writes faster than the master reads: its pipe grows, once.
    private func outpaced(_ fd: Int32) {
        guard pipes[fd]?.output.grown == false else { return }
        pipes[fd]?.output.grown = true
        _ = Pipe.grow(fd, to: Self.floodPipeCapacity)
    }

    /// Records the lines in the first `count` bytes of the read buffer, and
    /// carries what is left unfinished to the pipe's next read. Returns how
    /// many lines there were.
    @discardableResult
    private func take(_ count: Int, from fd: Int32, endOfFile: Bool) -> Int {
        guard let (source, rate) = pipes[fd].map({ ($0.output.source, $0.output.bytesPerSecond) }) else { return 0 }
        return readBuffer.withUnsafeBufferPointer { buffer in
            let bytes = UnsafeBufferPointer(rebasing: buffer[..<count])
            spans.removeAll(keepingCapacity: true)
            let rest = ChildOutput.lines(in: bytes, endOfFile: endOfFile, into: &spans)
            record(spans, of: bytes, from: source, bytesPerSecond: rate)
            pipes[fd]?.output.partial.removeAll(keepingCapacity: true)
            pipes[fd]?.output.partial.append(contentsOf: bytes[rest...])
            return spans.count
        }
    }

    /// Reads what an exited worker left in its pipes, so its last lines are
    /// in the history before its exit is recorded. Bounded: a descendant may
    /// still hold the pipe and write on; the loop reads the rest and closes
    /// the pipe at EOF. Then its budget goes, telling what it still dropped.
    func workerExited(_ pid: Int32) {
        for fd in pipesOfWorker[pid] ?? [] {
            for _ in 0..<16 {
                guard read(fd) else { break }
            }
        }
        guard var budget = budgets.removeValue(forKey: pid) else { return }
        let dropped = budget.takeDropped()
        if dropped > 0 { tellDropped(dropped, by: budget) }
    }

    /// Reads what is left in every pipe, then closes them: the daemon is leaving.
    func drainAll() {
        for fd in Array(pipes.keys) {
            while read(fd) {}
            close(fd)
        }
    }

    /// The unfinished line is the pipe's last.
    private func close(_ fd: Int32) {
        guard let pipe = pipes[fd] else { return }
        let carried = pipe.output.partial
        readBuffer.replaceSubrange(0..<carried.count, with: carried)
        take(carried.count, from: fd, endOfFile: true)
        pipes[fd] = nil
        pipesOfWorker[pipe.output.pid]?.removeAll { $0 == fd }
        if pipesOfWorker[pipe.output.pid]?.isEmpty == true { pipesOfWorker[pipe.output.pid] = nil }
        loop.unregister(pipe.registration, fd: fd)
        FileIO.close(fd)
    }

    /// Into the group's logs, within the worker's output budget.
    private func record(_ lines: [LineSpan], of bytes: UnsafeBufferPointer<UInt8>, from source: LineSource, bytesPerSecond: Int) {
        let stamp = LogStamp.now()
        guard bytesPerSecond > 0, !lines.isEmpty else {
            if !lines.isEmpty { logs.recordOutput(lines, of: bytes, from: source, at: stamp) }
            return
        }
        let now = MonotonicInstant.now()
        let pid = source.pid ?? 0
        var budget = budgets[pid] ?? OutputBudget(worker: source.worker, pid: pid, bytesPerSecond: bytesPerSecond, now: now)
        kept.removeAll(keepingCapacity: true)
        var droppedHere = 0
        weighing: for (index, line) in lines.enumerated() {
            switch budget.admit(bytes: line.range.count + 1, now: now) {
            case .keep:
                kept.append(line)
            case .drop:
                droppedHere += 1
                // Nothing more fits before the next read: the rest goes in one step.
                if budget.isExhausted {
                    let rest = lines.count - index - 1
                    budget.drop(rest)
                    droppedHere += rest
                    break weighing
                }
            case .keepAfterDropping(let dropped):
                // The marker goes between the lines before the drop and those after.
                if !kept.isEmpty { logs.recordOutput(kept, of: bytes, from: source, at: stamp) }
                kept.removeAll(keepingCapacity: true)
                tellDropped(dropped, by: budget)
                kept.append(line)
            }
        }
        if !kept.isEmpty { logs.recordOutput(kept, of: bytes, from: source, at: stamp) }
        if droppedHere > 0 { droppedLines[source.group, default: 0] += droppedHere }
        budgets[pid] = budget
    }

    /// The marker in place of the lines an output budget dropped: in the
    /// daemon's log and, between the lines kept, in the group's history and file.
    private func tellDropped(_ count: Int, by budget: OutputBudget) {
        let limit = HumanFormat.bytes(UInt64(budget.bytesPerSecond))
        logs.record(LogRecord(level: .warning, message: "\(counted(count, "line", "lines")) of output dropped, over its limit of \(limit)/s (outputBytesPerSecond)",
                              worker: budget.worker, pid: budget.pid))
    }
}
