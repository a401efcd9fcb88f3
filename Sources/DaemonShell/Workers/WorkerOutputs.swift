import Shared
import SupervisorCore

/// The workers' stdout and stderr pipes: read a bounded slice per turn, cut
/// into lines, held to each worker's output budget, then written to the
/// daemon's log, kept in the `logs` backlog and handed to `onLine` (for
/// `logs --follow`). No pipe stays open once its worker and whatever it
/// forked have closed it.
final class WorkerOutputs {
    /// Bytes read from one output pipe per loop turn: a worker printing
    /// short lines as fast as it can hands the master thousands of lines
    /// per read, and each costs a log line; what is left waits in the pipe
    /// (the worker blocks on a full pipe) for the next turn.
    static let bytesPerTurn = 8 * 1024

    /// Each line as it is recorded.
    var onLine: (LogEntry) -> Void = { _ in }

    private let loop: EventLoop
    private let log: DaemonLog
    private var pipes: [Int32: (output: ChildOutput, registration: EventLoop.Registration)] = [:]
    /// Each worker's output budget, by pid (`OutputBudget`).
    private var budgets: [Int32: OutputBudget] = [:]
    private(set) var backlog = OutputBacklog(capacity: 2000)
    /// Lines the output budgets dropped, by group (for metrics).
    private(set) var droppedLines: [String: Int] = [:]

    init(loop: EventLoop, log: DaemonLog) {
        self.loop = loop
        self.log = log
    }

    var openPipeCount: Int { pipes.count }

    /// Starts reading the master's end of a worker's pipe; closes it when
    /// it cannot be watched (the worker runs on, its stream not captured).
    func capture(_ fd: Int32, as output: ChildOutput) {
        do {
            let registration = try loop.register(fd: fd, interest: .readable) { [unowned self] _ in read(fd) }
            pipes[fd] = (output, registration)
        } catch {
            log.error("worker \(output.label): its \(output.stream.rawValue) is not captured: \(error)")
            FileIO.close(fd)
        }
    }

    private func read(_ fd: Int32) {
        switch FileIO.read(fd, max: Self.bytesPerTurn) {
        case .bytes(let bytes): take(bytes, from: fd)
        case .wouldBlock: return
        case .endOfFile, .failed: close(fd)
        }
    }

    private func take(_ bytes: [UInt8], from fd: Int32) {
        guard pipes[fd] != nil else { return }
        for line in pipes[fd]!.output.append(bytes) { record(line, from: pipes[fd]!.output) }
    }

    /// Reads what an exited worker left in its pipes, so its last lines are
    /// in the backlog before its exit is handled. Bounded: a descendant may
    /// still hold the pipe and write on; the loop reads the rest and closes
    /// the pipe at EOF. Then its budget goes, telling what it still dropped.
    func workerExited(_ pid: Int32) {
        for (fd, pipe) in pipes where pipe.output.pid == pid {
            for _ in 0..<16 {
                guard pipes[fd] != nil, case .bytes(let bytes) = FileIO.read(fd, max: 64 * 1024) else { break }
                take(bytes, from: fd)
            }
        }
        guard var budget = budgets.removeValue(forKey: pid) else { return }
        let dropped = budget.takeDropped()
        if dropped > 0 { tellDropped(dropped, by: budget) }
    }

    /// Reads what is left in every pipe, then closes them: the daemon is leaving.
    func drainAll() {
        for fd in Array(pipes.keys) {
            while pipes[fd] != nil, case .bytes(let bytes) = FileIO.read(fd, max: 64 * 1024) { take(bytes, from: fd) }
            close(fd)
        }
    }

    private func close(_ fd: Int32) {
        guard var pipe = pipes.removeValue(forKey: fd) else { return }
        if let rest = pipe.output.finish() { record(rest, from: pipe.output) }
        loop.unregister(pipe.registration, fd: fd)
        FileIO.close(fd)
    }

    /// Into the daemon's log, the backlog and `onLine`, within the worker's
    /// output budget.
    private func record(_ line: String, from output: ChildOutput) {
        if output.bytesPerSecond > 0 {
            let now = MonotonicInstant.now()
            var budget = budgets[output.pid] ?? OutputBudget(worker: output.label, bytesPerSecond: output.bytesPerSecond, now: now)
            let verdict = budget.admit(bytes: line.utf8.count + 1, now: now)
            budgets[output.pid] = budget
            switch verdict {
            case .keep: break
            case .drop:
                droppedLines[output.worker.group, default: 0] += 1
                return
            case .keepAfterDropping(let dropped): tellDropped(dropped, by: budget)
            }
        }
        log.childLine(output.label, stream: output.stream.rawValue, line)
        let entry = LogEntry(time: WallClock.now().seconds, group: output.worker.group, id: output.worker.id,
                             pid: output.pid, stream: output.stream, line: line)
        backlog.append(entry)
        onLine(entry)
    }

    /// The marker in place of the lines an output budget dropped.
    private func tellDropped(_ count: Int, by budget: OutputBudget) {
        let limit = HumanFormat.bytes(UInt64(budget.bytesPerSecond))
        log.warning("worker \(budget.worker): \(counted(count, "line", "lines")) of output dropped, over its limit of \(limit)/s (outputBytesPerSecond)")
    }
}
