import Dispatch
import Glibc

/// Where the daemon's log lines go: a bounded queue in front of the log's
/// descriptor, written by a thread of its own.
///
/// The supervision loop must never block on a write it does not control: a
/// pipe to a log shipper that hung, a terminal in scroll-lock, a log file on
/// a hung mount. So the loop only queues; the writer thread does the
/// blocking `write(2)`. When the queue is full (`capacity` bytes) lines are
/// dropped and counted, and once there is room again one marker line says
/// how many ("appd: 12345 lines dropped: stderr not draining"). The price:
/// what is queued when the master is SIGKILLed is lost, and `finish` gives
/// the writer a bounded time at exit.
///
/// The writer thread is started after the signals are blocked, so it never
/// takes a signal meant for the loop, and it forks nothing.
final class LogSink: Sendable {
    /// Bytes waiting at most; beyond, lines are dropped and counted.
    static let capacity = 1 << 20

    private struct Queue {
        var chunks: [[UInt8]] = []
        var bytes = 0
        var dropped = 0
        var finishing = false
    }

    private let fd: Int32
    /// "stderr" or the log file's path, for the drop marker.
    private let destination: String
    private let queue = PthreadLocked(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(fd: Int32, destination: String) {
        self.fd = fd
        self.destination = destination
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            let sink = Unmanaged<LogSink>.fromOpaque(context!).takeRetainedValue()
            sink.writeUntilFinished()
            return nil
        }, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<LogSink>.fromOpaque(context).release()
        }
    }

    /// Queues one line (with its newline); never blocks.
    func write(_ line: [UInt8]) {
        let queued = queue.withLock { queue -> Bool in
            var marker: [UInt8] = []
            if queue.dropped > 0 {
                marker = Array("\(LogLineFormat.timestamp()) appd[\(getpid())] warning: \(queue.dropped) lines dropped: \(destination) not draining\n".utf8)
            }
            guard queue.bytes + marker.count + line.count <= Self.capacity else {
                queue.dropped += 1
                return false
            }
            if !marker.isEmpty {
                queue.chunks.append(marker)
                queue.bytes += marker.count
                queue.dropped = 0
            }
            queue.chunks.append(line)
            queue.bytes += line.count
            return true
        }
        if queued { wake.signal() }
    }

    /// Lines dropped since the last marker, for tests and status.
    var droppedLines: Int { queue.withLock { $0.dropped } }

    /// At exit: lets the writer write what is queued, for at most `timeout`
    /// seconds (a reader that stalled must not keep the master alive).
    func finish(timeout: Double) {
        queue.withLock { $0.finishing = true }
        wake.signal()
        _ = finished.wait(timeout: .now() + timeout)
    }

    private func writeUntilFinished() {
        while true {
            wake.wait()
            let (chunks, finishing) = queue.withLock { queue -> ([[UInt8]], Bool) in
                defer {
                    queue.chunks.removeAll(keepingCapacity: true)
                    queue.bytes = 0
                }
                return (queue.chunks, queue.finishing)
            }
            for chunk in chunks { writeFully(chunk) }
            if finishing, queue.withLock({ $0.chunks.isEmpty }) {
                finished.signal()
                return
            }
        }
    }

    /// A chunk whole, or as much as the descriptor takes before failing:
    /// there is nowhere left to report a failing log.
    private func writeFully(_ bytes: [UInt8]) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let written = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            rest = rest.dropFirst(written)
        }
    }
}

/// A value only reached under a pthread mutex: what `Synchronization.Mutex`
/// gives, with a lock ThreadSanitizer can see. This toolchain's TSan cannot
/// see `Mutex` (scripts/tsan.supp) and reports every access it guards; a
/// suppression cannot cover that in appd, because at shutdown appd kills
/// every child left (TSan's llvm-symbolizer among them), and a report that
/// can no longer be symbolized cannot be matched to a suppression. TSan
/// intercepts `pthread_mutex_lock`, so the sanitizer run checks the log's
/// queue instead of taking it on trust.
private final class PthreadLocked<Value: Sendable>: @unchecked Sendable {
    /// Allocated once: a pthread mutex must not move.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
