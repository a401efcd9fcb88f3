import Dispatch
import Glibc
import Shared

/// A log file in the `raw` format: one pipe that the group's processes
/// write their output into, and a thread of its own that moves what comes
/// out of it to the rotated file with splice(2). The bytes never enter the
/// master's memory: the kernel copies each once, into the file's page
/// cache, where a line-by-line log reads them from the pipe, stamps them
/// and writes them again (`WorkerOutputs`, `LogSink`).
///
/// One pipe for every process of the file, not one each: writes of up to a
/// page (PIPE_BUF) are atomic in a pipe, so lines written whole by several
/// processes stay whole in the file, as they would on a terminal; pipes
/// moved one after the other would cut them wherever a move ended.
///
/// The master keeps the write end to hand to each worker it starts, so
/// the pipe never ends while the file is configured; `close` gives it up,
/// and the thread finishes once the last process holding it is gone. A
/// disk that stalls stalls the thread, then fills the pipe, then makes the
/// workers' writes wait: never the master, which never touches the pipe
/// after the spawn.
final class RawLogFile {
    /// The pipe's capacity, as a flood's pipe gets (`WorkerOutputs`): a
    /// worker writing 100 MB/s fills it in 10 ms.
    static let pipeCapacity = 1 << 20
    /// At most this much per splice: the pipe's capacity.
    static let pieceSize = 1 << 20

    let path: String
    /// What each worker's stdout (or stderr) gets; -1 once closed.
    private(set) var writeEnd: Int32
    private let mover: Mover

    /// Opens the file as `config` says (its directory checked, as every
    /// log's) and starts its thread. `notices`: appd's log, where the
    /// thread says what went wrong (a rotation that failed), since the
    /// raw file holds the workers' bytes only.
    init(_ config: LogFileConfig, notices: LogFeed) throws(SystemError) {
        let handle = try RotatingLogFile.Handle.open(config.path, appending: false)
        let pipe: (read: Int32, write: Int32)
        do {
            pipe = try Pipe.make(blockingRead: true)
        } catch {
            handle.close()
            throw error
        }
        _ = Pipe.grow(pipe.write, to: Self.pipeCapacity)
        path = config.path
        writeEnd = pipe.write
        mover = Mover(pipe: pipe.read, file: RotatingLogFile(handle, rotation: LogRotation(config)),
                      notices: notices.sink, style: notices.format)
        mover.start()
    }

    /// New rotation settings (a reload), from the next piece on.
    func reconfigure(_ config: LogFileConfig) { mover.reconfigure(LogRotation(config)) }

    /// Opens the file again by its path, for an external logrotate; the
    /// thread moves to it from its next piece.
    func reopen() throws(SystemError) {
        mover.adopt(try RotatingLogFile.Handle.open(path, appending: false))
    }

    /// No longer configured: new workers no longer get the pipe; the thread
    /// moves what the workers still running write, then closes the file
    /// when the last of them is gone.
    func close() {
        guard writeEnd >= 0 else { return }
        FileIO.close(writeEnd)
        writeEnd = -1
    }

    /// At exit: closes, then waits at most `timeout` seconds for the
    /// thread to move what is left (a worker that outlived its stop may
    /// still hold the pipe).
    func finish(timeout: Double) {
        close()
        mover.waitUntilFinished(timeout: timeout)
    }

    /// The thread's side: the pipe's read end and the file, touched by the
    /// thread alone once it runs; changes from the loop wait under a lock
    /// for the next piece.
    private final class Mover: Sendable {
        private struct Changes {
            var rotation: LogRotation?
            var reopened: RotatingLogFile.Handle?
        }

        private let pipe: Int32
        nonisolated(unsafe) private let file: RotatingLogFile
        private let notices: LogSink
        private let style: LogLineStyle
        private let changes = PthreadLocked(Changes())
        private let finished = DispatchSemaphore(value: 0)

        init(pipe: Int32, file: RotatingLogFile, notices: LogSink, style: LogLineStyle) {
            self.pipe = pipe
            self.file = file
            self.notices = notices
            self.style = style
        }

        /// The thread is started after the signals are blocked (the loop
        /// starts before any log is opened), so it never takes a signal
        /// meant for the loop; it forks nothing.
        func start() {
            guard !DetachedThread.start({ self.moveUntilEnd() }) else { return }
            FileIO.close(pipe)
            file.close()
            finished.signal()
        }

        func reconfigure(_ rotation: LogRotation) { changes.withLock { $0.rotation = rotation } }

        func adopt(_ handle: RotatingLogFile.Handle) {
            changes.withLock { changes in
                changes.reopened?.close()
                changes.reopened = handle
            }
        }

        func waitUntilFinished(timeout: Double) { _ = finished.wait(timeout: .now() + timeout) }

        private func moveUntilEnd() {
            var copying = false
            var buffer: [UInt8] = []
            moving: while true {
                // Waits for bytes before taking the loop's changes, so a reopen
                // asked for while the pipe was quiet applies to the next bytes.
                var ready = pollfd(fd: pipe, events: Int16(POLLIN), revents: 0)
                if poll(&ready, 1, -1) < 0, errno != EINTR { break moving }
                let (rotation, reopened) = changes.withLock { changes in
                    defer { changes = Changes() }
                    return (changes.rotation, changes.reopened)
                }
                if let rotation { file.rotation = rotation }
                if let reopened { file.adopt(reopened) }
                if copying {
                    // A destination splice cannot write (a terminal): read and write.
                    if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: 64 << 10) }
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(pipe, $0.baseAddress, $0.count) }
                    if count == 0 { break moving }
                    if count > 0, let problem = file.write(buffer[..<count]) { notice(problem) }
                    continue
                }
                let (spliced, problem) = file.splice(from: pipe, maximum: RawLogFile.pieceSize)
                if let problem { notice(problem) }
                switch spliced {
                case .moved:
                    continue
                case .endOfFile:
                    break moving
                case .unsupported:
                    copying = true
                case .failed(let error) where error == EINTR || error == EAGAIN:
                    continue
                case .failed:
                    // The disk is full or failing: wait a little rather than spin, as a
                    // blocked write would; the workers wait behind the pipe meanwhile.
                    usleep(100_000)
                }
            }
            FileIO.close(pipe)
            file.close()
            finished.signal()
        }

        /// A warning in appd's log, through its sink (which any thread may
        /// write to), not in the raw file, which holds the workers' bytes alone.
        private func notice(_ problem: String) {
            var line: [UInt8] = []
            LogLineFormat.appendDaemonLine(level: "warning", problem, at: .now(), as: style, to: &line)
            notices.write(&line)
        }
    }
}
