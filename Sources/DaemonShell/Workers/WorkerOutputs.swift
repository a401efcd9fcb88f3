import Shared
import SupervisorCore

/// The workers' stdout and stderr pipes: read a bounded slice per turn, cut
/// into lines, held to each worker's output budget, then handed to
/// `GroupLogs` (the group's history, its log file or the daemon's log, and
/// `logs --follow`). No pipe stays open once its worker and whatever it
/// forked have closed it.
final class WorkerOutputs {
    /// Bytes read from one output pipe per loop turn. A line costs the
    /// master a copy into the history and one into the log's queue, so a
    /// read of `y` lines (32 K of them) takes about a millisecond; what is
    /// left waits in the pipe (the worker blocks on a full pipe) for the
    /// next turn.
    static let bytesPerTurn = 64 * 1024

    let logs: GroupLogs
    private let loop: EventLoop
    private let log: DaemonLog
    private var pipes: [Int32: (output: ChildOutput, registration: EventLoop.Registration)] = [:]
    /// Each worker's output budget, by pid (`OutputBudget`).
    private var budgets: [Int32: OutputBudget] = [:]

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

    /// The lines `bytes` completes, all stamped with the moment they were read.
    private func take(_ bytes: [UInt8], from fd: Int32) {
        // Not the whole ChildOutput: a copy would share its unfinished line
        // and make the split below copy it.
        guard let (source, rate) = pipes[fd].map({ ($0.output.source, $0.output.bytesPerSecond) }) else { return }
        record(from: source, bytesPerSecond: rate) { line in pipes[fd]!.output.split(bytes, line) }
    }

    /// Reads what an exited worker left in its pipes, so its last lines are
    /// in the history before its exit is recorded. Bounded: a descendant may
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
        record(from: pipe.output.source, bytesPerSecond: pipe.output.bytesPerSecond) { line in pipe.output.finish(line) }
        loop.unregister(pipe.registration, fd: fd)
        FileIO.close(fd)
    }

    /// Into the group's logs, within the worker's output budget: `lines`
    /// hands over each line of one read.
    private func record(from source: LineSource, bytesPerSecond: Int, _ lines: (_ line: (ArraySlice<UInt8>) -> Void) -> Void) {
        let now = MonotonicInstant.now()
        let pid = source.pid ?? 0
        var budget = bytesPerSecond > 0
            ? budgets[pid] ?? OutputBudget(worker: source.worker, pid: pid, bytesPerSecond: bytesPerSecond, now: now)
            : nil
        let batch = logs.beginOutput(from: source, at: .now())
        lines { line in
            switch budget?.admit(bytes: line.count + 1, now: now) {
            case nil, .keep?: logs.record(line, in: batch)
            case .drop?: return
            case .keepAfterDropping(let dropped)?:
                tellDropped(dropped, by: budget!)
                logs.record(line, in: batch)
            }
        }
        logs.end(batch)
        if let budget { budgets[pid] = budget }
    }

    /// The marker in place of the lines an output budget dropped: in the
    /// daemon's log and, between the lines kept, in the group's history and file.
    private func tellDropped(_ count: Int, by budget: OutputBudget) {
        let limit = HumanFormat.bytes(UInt64(budget.bytesPerSecond))
        logs.record(LogRecord(level: .warning, message: "\(counted(count, "line", "lines")) of output dropped, over its limit of \(limit)/s (outputBytesPerSecond)",
                              worker: budget.worker, pid: budget.pid))
    }
}
