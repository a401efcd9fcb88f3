import Glibc

/// Each live worker's `cgroup.procs`, held open from the first time its
/// members are listed until its leader is reaped, and re-read with one
/// pread: a `status` lists every worker's members, and opening the file by
/// its path, reading it to its end and closing it cost four system calls
/// and a walk through the cgroup tree per worker (at 1000 workers, more
/// than sampling their /proc files).
///
/// Re-reading from offset 0 is how the kernel means a seq_file to be read
/// again: cgroup.procs restarts its walk of the cgroup's tasks there. One
/// read returns at most the kernel's buffer, a page (it grows only for a
/// record that does not fit one, and a pid line is at most 8 bytes), so a
/// read that returned less than a page minus a line was the whole list;
/// otherwise the rest is read until the end.
///
/// At most `maximumHeld` files are held (one per 16 fds of the open-file
/// limit, as `ProcessSampler`'s workers); past that a worker's list is
/// read by path and closed. A held file belongs to its cgroup, never to a
/// pid number: it is closed when its leader is reaped, so a reused pid
/// opens its own worker's file.
///
/// The workers of one status slice are listed together: their held files
/// are read in one batch, on two threads (`ParallelFileReader`).
final class CgroupProcsFiles {
    /// The most workers whose cgroup.procs is held open.
    let maximumHeld: Int
    private var held: [Int32: Int32] = [:]
    private var reader = ProcFileReader(capacity: 4096)
    private let fileReads: ParallelFileReader

    /// `fileReads`: may be shared (with `ProcessSampler`), so one helper thread reads for both.
    init(maximumHeld: Int = ProcessSampler.openFileLimit() / 16, fileReads: ParallelFileReader = ParallelFileReader()) {
        self.maximumHeld = maximumHeld
        self.fileReads = fileReads
    }

    deinit {
        for fd in held.values { _ = close(fd) }
    }

    /// The workers whose file is held.
    var heldWorkers: Set<Int32> { Set(held.keys) }

    /// The pids in `cgroup` (worker `leader`'s), in the kernel's order;
    /// empty when it cannot be read (the cgroup is gone).
    func processes(ofWorker leader: Int32, in cgroup: WorkerCgroup) -> [Int32] {
        processes(ofWorker: leader, in: cgroup, readAhead: nil)
    }

    /// The same for each of `workers`, in order, their held files read in one batch first.
    func processes(ofWorkers workers: [(leader: Int32, cgroup: WorkerCgroup)]) -> [[Int32]] {
        let heldFiles = workers.map { held[$0.leader] }
        return fileReads.read(heldFiles.compactMap { $0.map(ParallelFileReader.Read.recordFile) }) { outcomes in
            var nextRead = 0
            return workers.indices.map { index in
                var readAhead: UnsafeBufferPointer<UInt8>??
                if heldFiles[index] != nil {
                    readAhead = .some(outcomes.bytes(nextRead))
                    nextRead += 1
                }
                return processes(ofWorker: workers[index].leader, in: workers[index].cgroup, readAhead: readAhead)
            }
        }
    }

    /// `readAhead`: what the batch read of the held file gave (nil inside: that read failed).
    private func processes(ofWorker leader: Int32, in cgroup: WorkerCgroup, readAhead: UnsafeBufferPointer<UInt8>??) -> [Int32] {
        if let fd = held[leader] {
            if let pids = readAhead.map({ $0.map(Self.pids) }) ?? read(fd) { return pids }
            release(worker: leader)
        }
        let fd = open(cgroup.path + "/cgroup.procs", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        let pids = read(fd)
        if pids != nil, held.count < maximumHeld { held[leader] = fd } else { _ = close(fd) }
        return pids ?? []
    }

    /// Closes a worker's file: its leader was reaped.
    func release(worker leader: Int32) {
        if let fd = held.removeValue(forKey: leader) { _ = close(fd) }
    }

    /// The whole file from its start, parsed; nil when a read fails.
    private func read(_ fd: Int32) -> [Int32]? {
        reader.withContents(ofOpenRecordFile: fd, Self.pids)
    }

    /// The pids of a `cgroup.procs`, one a line.
    private static func pids(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var pids: [Int32] = []
        var cursor = ByteCursor(bytes)
        while let pid = cursor.decimal() {
            pids.append(Int32(truncatingIfNeeded: pid))
            guard cursor.consume(UInt8(ascii: "\n")) else { break }
        }
        return pids
    }
}
