import Glibc
import SupervisorCore

/// Reads a batch of open files (the `/proc` files and `cgroup.procs` a
/// status holds) on the calling thread and one helper thread at once.
///
/// Why: a status of 1000 workers is 4000 reads of held files, each one
/// independent of the others, and the kernel writing them out is most of
/// the daemon's time (each read costs ≥ 2 µs here; bench/RESULTS-load.md).
/// Two CPUs read them in about half the time. Only the reads run on the
/// helper: what to read is planned, and what was read is parsed and acted
/// on, by the caller on the loop thread, so none of the daemon's state is
/// shared; the helper writes only into its own buffer and into the
/// batch's outcomes, and never opens or closes a file. The caller's files
/// stay open for the whole batch (it closes nothing until `read` returns),
/// so a number the helper reads is never another file's.
///
/// The batch is shared out in chunks of `readsPerChunk` claimed under one
/// lock, by the caller as well, so a helper slow to wake (its CPU busy)
/// costs the caller nothing but the chunk the helper is reading: once no
/// chunk is left to claim, the caller waits only for the helper's chunk in
/// progress (a few reads, ≈ 10 µs; it spins for up to `spinSeconds`
/// before sleeping on a condition, since a sleep and a wake-up cost about
/// as much), and while it sleeps its own CPU is free for the helper. A
/// measured status of 1000 waited ≈ 2 ms in all with chunks of 16 reads
/// and no spin, ≈ 0.3 ms with these. A batch of fewer than
/// `minimumShared` reads is read by the caller alone: waking the helper
/// would cost more than it saves.
///
/// The helper is started with the first shared batch, on the loop thread,
/// so after `main` blocked the handled signals (it inherits the mask and
/// never takes a signal meant for the loop); it ends when the reader is
/// deinitialized. Without it (pthread_create failed) the caller reads all.
final class ParallelFileReader {
    /// One read of a file the caller keeps open.
    enum Read {
        /// A /proc/PID file made by one seq_file show (`stat`, `statm`).
        case processFile(Int32)
        /// A seq_file of short records (`cgroup.procs`).
        case recordFile(Int32)
        /// The size of an open directory (an fd directory: its number of fds).
        case directorySize(Int32)
    }

    /// What a read gave: valid until the next batch.
    struct Outcomes {
        fileprivate let outcomes: UnsafeBufferPointer<Outcome>
        fileprivate let callerBytes: UnsafeBufferPointer<UInt8>
        fileprivate let helperBytes: UnsafeBufferPointer<UInt8>

        /// The contents read by read `index`; nil when the read failed.
        func bytes(_ index: Int) -> UnsafeBufferPointer<UInt8>? {
            guard case .bytes(let byHelper, let start, let count) = outcomes[index] else { return nil }
            return UnsafeBufferPointer(rebasing: (byHelper ? helperBytes : callerBytes)[start..<start + count])
        }

        /// The size fstat gave for read `index`; nil when it failed.
        func size(_ index: Int) -> Int? {
            guard case .size(let size) = outcomes[index] else { return nil }
            return size
        }
    }

    fileprivate enum Outcome {
        case failed
        case bytes(byHelper: Bool, start: Int, count: Int)
        case size(Int)
    }

    static let readsPerChunk = 4
    static let minimumShared = 32
    static let spinSeconds = 0.000_030

    /// Whether batches may be shared with the helper; false (the default):
    /// the caller reads them alone. `StatusService` allows it for one-shot
    /// statuses only (see there).
    var sharesWithHelper = false

    private let shared = SharedBatch()
    private var callerBuffer = ReadBuffer()
    private var helperStarted = false
    private var helperAvailable = false

    deinit {
        shared.finish()
    }

    /// Reads every item of `reads` (on this thread and the helper), then
    /// calls `body` with what they gave.
    func read<Result>(_ reads: [Read], _ body: (Outcomes) -> Result) -> Result {
        shared.begin(reads)
        callerBuffer.used = 0
        if sharesWithHelper, reads.count >= Self.minimumShared, startHelperOnce() { shared.wakeHelper() }
        withUnsafeMutablePointer(to: &callerBuffer) { shared.readClaimedChunks(into: $0, byHelper: false) }
        shared.waitForChunksInProgress()
        let outcomes = UnsafeBufferPointer(rebasing: shared.outcomes[..<reads.count])
        return callerBuffer.bytes.withUnsafeBufferPointer { callerBytes in
            shared.helperBuffer.pointee.bytes.withUnsafeBufferPointer { helperBytes in
                body(Outcomes(outcomes: outcomes, callerBytes: callerBytes, helperBytes: helperBytes))
            }
        }
    }

    private func startHelperOnce() -> Bool {
        if !helperStarted {
            helperStarted = true
            let shared = self.shared
            helperAvailable = DetachedThread.start { shared.helpUntilFinished() }
        }
        return helperAvailable
    }

    /// Bytes read in one batch by one thread, one file after the other.
    fileprivate struct ReadBuffer {
        var bytes = [UInt8](repeating: 0, count: 64 * 1024)
        var used = 0
        /// The batch these bytes belong to (the helper's: it learns of a new batch by claiming from it).
        var batch = 0

        mutating func perform(_ read: Read, byHelper: Bool) -> Outcome {
            switch read {
            case .directorySize(let fd):
                var info = stat()
                return fstat(fd, &info) == 0 ? .size(Int(info.st_size)) : .failed
            case .processFile(let fd):
                return append(fd, wholeAt: .readLeavingRoom, byHelper: byHelper)
            case .recordFile(let fd):
                return append(fd, wholeAt: .firstReadUnderAPage, byHelper: byHelper)
            }
        }

        private mutating func append(_ fd: Int32, wholeAt end: ProcFileReader.WholeAt, byHelper: Bool) -> Outcome {
            // A page at least free, so a file of one show is read in one go.
            while bytes.count - used < 4096 { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
            guard let count = ProcFileReader.readWhole(fd, wholeAt: end, into: &bytes, at: used) else { return .failed }
            defer { used += count }
            return .bytes(byHelper: byHelper, start: used, count: count)
        }
    }

    /// The batch in progress, and the helper's side: everything here that
    /// both threads touch is reached under `mutex`, or (the outcomes and the
    /// helper's buffer) written by one thread before a `mutex` section the
    /// other thread passes before reading it.
    fileprivate final class SharedBatch: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        /// Signalled when a batch begins or the reader is gone.
        private let workArrived = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        /// Signalled when the last chunk in progress is done.
        private let chunksDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var reads: [Read] = []
        private var nextUnclaimed = 0
        private var chunksInProgress = 0
        private var batch = 0
        private var finished = false
        /// One per read, each written only by the thread that claimed it;
        /// replaced only by `begin`, between batches.
        private(set) var outcomes = UnsafeMutableBufferPointer<Outcome>.allocate(capacity: 0)
        /// Written only by the helper, read by the caller once the batch is done.
        let helperBuffer = UnsafeMutablePointer<ReadBuffer>.allocate(capacity: 1)

        init() {
            mutex.initialize(to: pthread_mutex_t())
            workArrived.initialize(to: pthread_cond_t())
            chunksDone.initialize(to: pthread_cond_t())
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(workArrived, nil)
            pthread_cond_init(chunksDone, nil)
            helperBuffer.initialize(to: ReadBuffer())
        }

        deinit {
            pthread_cond_destroy(chunksDone)
            pthread_cond_destroy(workArrived)
            pthread_mutex_destroy(mutex)
            for pointer in [workArrived, chunksDone] { pointer.deallocate() }
            mutex.deallocate()
            helperBuffer.deinitialize(count: 1)
            helperBuffer.deallocate()
            outcomes.deallocate()
        }

        private func locked<Result>(_ body: () -> Result) -> Result {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return body()
        }

        /// The caller, between batches (no chunk is in progress).
        func begin(_ newReads: [Read]) {
            locked {
                reads = newReads
                nextUnclaimed = 0
                batch += 1
                if outcomes.count < newReads.count {
                    outcomes.deallocate()
                    outcomes = .allocate(capacity: max(newReads.count, 2 * outcomes.count))
                    outcomes.initialize(repeating: .failed)
                }
            }
        }

        func wakeHelper() {
            locked { signal(workArrived) }
        }

        func finish() {
            locked {
                finished = true
                signal(workArrived)
            }
        }

        /// Claims chunks of the batch and reads them until none is left.
        /// `buffer` is reached only while a chunk is claimed: the helper's
        /// is read by the caller once no chunk is in progress, and the
        /// helper may wake for a batch already done.
        func readClaimedChunks(into buffer: UnsafeMutablePointer<ReadBuffer>, byHelper: Bool) {
            var claimed = claim(finishing: false)
            while let (range, batchOfChunk, chunkReads) = claimed {
                if buffer.pointee.batch != batchOfChunk {
                    buffer.pointee.batch = batchOfChunk
                    if byHelper { buffer.pointee.used = 0 }
                }
                for (offset, read) in chunkReads.enumerated() {
                    outcomes[range.lowerBound + offset] = buffer.pointee.perform(read, byHelper: byHelper)
                }
                claimed = claim(finishing: true)
            }
        }

        /// The next chunk, after marking the one just read (`finishing`) as done.
        private func claim(finishing: Bool) -> (Range<Int>, Int, ArraySlice<Read>)? {
            locked {
                if finishing {
                    chunksInProgress -= 1
                    if chunksInProgress == 0, nextUnclaimed == reads.count { signal(chunksDone) }
                }
                guard nextUnclaimed < reads.count else { return nil }
                let range = nextUnclaimed..<min(nextUnclaimed + ParallelFileReader.readsPerChunk, reads.count)
                nextUnclaimed = range.upperBound
                chunksInProgress += 1
                return (range, batch, reads[range])
            }
        }

        /// The caller, once nothing is left to claim.
        func waitForChunksInProgress() {
            // The helper's last chunk is a few reads from done: a short spin
            // saves sleeping on the condition and being woken (µs each).
            let spinUntil = MonotonicInstant.now().seconds + ParallelFileReader.spinSeconds
            while MonotonicInstant.now().seconds < spinUntil {
                if locked({ chunksInProgress == 0 }) { return }
            }
            locked {
                while chunksInProgress > 0 { _ = pthread_cond_wait(chunksDone, mutex) }
            }
        }

        /// The helper thread's whole life.
        func helpUntilFinished() {
            var seen = 0
            while true {
                let go: Bool = locked {
                    while batch == seen, !finished { _ = pthread_cond_wait(workArrived, mutex) }
                    seen = batch
                    return !finished
                }
                guard go else { return }
                readClaimedChunks(into: helperBuffer, byHelper: true)
            }
        }

        private func signal(_ condition: UnsafeMutablePointer<pthread_cond_t>) {
            _ = pthread_cond_signal(condition)
        }
    }
}
