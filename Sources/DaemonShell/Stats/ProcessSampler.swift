import CSystem
import Glibc

/// Reads `ProcessSample`s from /proc: `stat` for CPU times, threads and
/// start time, `statm` for the resident size, and the `fd` directory for
/// the open fds and their sockets.
///
/// Cost matters here: it runs once per worker per request, so 1000 workers
/// make it the bulk of a `status`. A process's `stat`, `statm` and fd
/// directory stay open from its first sample until `release` (the master
/// releases a worker when it reaps it): opening a file by its path costs a
/// walk through /proc and a close on top of the read. Per process, then:
/// - one pread each of `stat` and of `statm` (the cheapest file with the
///   exact resident size; the rss in `stat` is a per-CPU estimate that can
///   be megabytes off): the kernel writes a /proc file afresh for a read at
///   offset 0;
/// - the fd directory either
///   - listed with getdents64 (not readdir, which adds an fstat and a
///     malloc), with one readlink per fd — nothing cheaper tells a
///     socket's inode — when the caller wants the sockets, or
///   - only counted, with one fstat: since Linux 6.2 the directory's size
///     is its number of open fds, which saves the listing (proc makes an
///     entry per fd) and the readlinks. An older kernel gives 0, and so
///     does a process without fds: then the directory is listed.
///
/// The kernel checks at open whether the master may see a process's fds:
/// a process whose fd directory it may not open (another user's, or
/// non-dumpable) yields nil. A process loses the master that right only by
/// changing user or turning non-dumpable, either of which takes away its
/// ptrace read access too, and then `stat` shows 1 and 1 for where its
/// code starts and ends; an exec shows new values. So the fd directory is
/// opened right after a `stat` read, and opened afresh (checked afresh)
/// whenever those two values differ from that read's.
///
/// Holding costs 3 fds and 2 seq_file pages (8 KiB of kernel memory) per
/// process, so at most `maximumHeld` processes are held, one per 16 fds of
/// the open-file limit (their fds at most 3/16 of it: the master's own
/// need, 3 fds per worker, keeps the rest); past that, the same files are
/// opened for each sample and closed after it.
///
/// A batch of processes (`sample(_:secondsSinceBoot:findingSockets:)` of
/// a list) has the held files of all of them read first, on two threads
/// (`ParallelFileReader`), and parsed here after; a process whose files are
/// not held yet, or whose fd directory is opened afresh, is read here.
///
/// A process may exit at any point between those reads; it then yields nil,
/// never a half-filled sample. What is held belongs to the process, not to
/// its pid number: once it is gone nothing held reads, so a pid reused
/// before its release is opened afresh. One sampler keeps its buffers
/// between calls, so sampling 1000 processes allocates almost nothing; it
/// is a class so that it can close what it holds.
final class ProcessSampler {
    /// A process's `stat`, `statm` and fd directory, open.
    private struct ProcessFiles {
        var stat: Int32
        var statm: Int32
        /// -1 until the first sample opens it.
        var descriptors: Int32 = -1
        /// `stat`'s code start and end when `descriptors` was opened.
        var code: (start: UInt64, end: UInt64) = (0, 0)

        init?(_ pid: Int32, path: inout ProcPath) {
            stat = path.withPath(pid: pid, "stat") { open($0, O_RDONLY | O_CLOEXEC) }
            statm = path.withPath(pid: pid, "statm") { open($0, O_RDONLY | O_CLOEXEC) }
            guard stat >= 0, statm >= 0 else {
                close()
                return nil
            }
        }

        func close() {
            for fd in [stat, statm, descriptors] where fd >= 0 { _ = Glibc.close(fd) }
        }
    }

    /// The most processes whose files are held open.
    let maximumHeld: Int
    private var held: [Int32: ProcessFiles] = [:]
    /// Each worker's processes besides its leader, as last listed, by leader.
    private var members: [Int32: [Int32]] = [:]
    private var reader = ProcFileReader()
    private var path = ProcPath()
    private var inodes: [UInt64] = []
    private var link = [UInt8](repeating: 0, count: 64)
    private let entries = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 8)
    private let fileReads: ParallelFileReader

    /// `maximumHeld`: by default one per 16 fds of the soft open-file limit.
    /// `fileReads`: may be shared (with `CgroupProcsFiles`), so one helper thread reads for both.
    init(maximumHeld: Int = ProcessSampler.openFileLimit() / 16, fileReads: ParallelFileReader = ParallelFileReader()) {
        self.maximumHeld = maximumHeld
        self.fileReads = fileReads
    }

    deinit {
        for files in held.values { files.close() }
        entries.deallocate()
    }

    /// The processes whose files are held open.
    var heldPids: Set<Int32> { Set(held.keys) }

    /// Closes what is held for `pid`.
    func release(pid: Int32) {
        held.removeValue(forKey: pid)?.close()
    }

    /// Before a worker's tree is sampled: `others`, its processes besides
    /// the leader, as listed now (its cgroup's or its descendants). What is
    /// held for a process listed last time and not now (it exited, or left)
    /// is closed, so only processes still sampled keep files open.
    func sampling(members others: [Int32], of leader: Int32) {
        let previous = members[leader] ?? []
        guard previous != others else { return }
        if !previous.isEmpty {
            let now = others.count > 8 ? Set(others) : nil
            for pid in previous where !(now?.contains(pid) ?? others.contains(pid)) { release(pid: pid) }
        }
        members[leader] = others.isEmpty ? nil : others
    }

    /// Closes what is held for a worker and for the rest of its tree as
    /// last listed (`sampling(members:of:)`): the master reaped it.
    func release(worker leader: Int32) {
        release(pid: leader)
        for pid in members.removeValue(forKey: leader) ?? [] { release(pid: pid) }
    }

    /// `secondsSinceBoot`: `KernelUnits.secondsSinceBoot()`, read once per
    /// batch of samples by the caller. `findingSockets`: false leaves
    /// `socketInodes` empty and only counts the fds (see the type).
    func sample(_ pid: Int32, secondsSinceBoot: Double, findingSockets: Bool = true) -> ProcessSample? {
        sample(pid, readAhead: nil, secondsSinceBoot: secondsSinceBoot, findingSockets: findingSockets)
    }

    /// Each of `pids` sampled, in order (nil: gone), the held files of all
    /// of them read at once first (see the type).
    func sample(_ pids: [Int32], secondsSinceBoot: Double, findingSockets: Bool = true) -> [ProcessSample?] {
        var reads: [ParallelFileReader.Read] = []
        reads.reserveCapacity(3 * pids.count)
        // Where each pid's reads start in `reads`; nil: its files are not held.
        var firstRead: [Int?] = []
        firstRead.reserveCapacity(pids.count)
        for pid in pids {
            guard let files = held[pid], files.descriptors >= 0 else {
                firstRead.append(nil)
                continue
            }
            firstRead.append(reads.count)
            reads.append(.processFile(files.stat))
            reads.append(.processFile(files.statm))
            if !findingSockets { reads.append(.directorySize(files.descriptors)) }
        }
        return fileReads.read(reads) { outcomes in
            pids.indices.map { index in
                let readAhead = firstRead[index].map { first in
                    ReadAhead(stat: outcomes.bytes(first), statm: outcomes.bytes(first + 1),
                              directorySize: findingSockets ? nil : outcomes.size(first + 2))
                }
                return sample(pids[index], readAhead: readAhead, secondsSinceBoot: secondsSinceBoot, findingSockets: findingSockets)
            }
        }
    }

    /// What a batch read of a held process's files gave; nil: that read
    /// failed (the process is gone, or its pid names another). `directorySize`
    /// is not read when the sockets are looked for.
    private struct ReadAhead {
        var stat: UnsafeBufferPointer<UInt8>?
        var statm: UnsafeBufferPointer<UInt8>?
        var directorySize: Int?
    }

    /// `readAhead`: what the batch read of `pid`'s held files gave.
    private func sample(_ pid: Int32, readAhead: ReadAhead?, secondsSinceBoot: Double, findingSockets: Bool) -> ProcessSample? {
        if var files = held[pid] {
            let sample = sample(pid, &files, readAhead: readAhead, secondsSinceBoot: secondsSinceBoot, findingSockets: findingSockets)
            held[pid] = files
            if let sample { return sample }
            release(pid: pid)  // gone, or its pid now names another process: look afresh
        }
        guard var files = ProcessFiles(pid, path: &path) else { return nil }
        let sample = sample(pid, &files, readAhead: nil, secondsSinceBoot: secondsSinceBoot, findingSockets: findingSockets)
        if sample != nil, held.count < maximumHeld { held[pid] = files } else { files.close() }
        return sample
    }

    private func sample(
        _ pid: Int32, _ files: inout ProcessFiles, readAhead: ReadAhead?, secondsSinceBoot: Double, findingSockets: Bool
    ) -> ProcessSample? {
        let statLine = readAhead.map { $0.stat.flatMap(ProcessStatLine.parse) }
            ?? reader.withContents(ofOpenProcessFile: files.stat, ProcessStatLine.parse)
        guard let stat = statLine ?? nil else { return nil }
        var directoryAhead = readAhead
        if files.descriptors < 0 || files.code != (stat.codeStart, stat.codeEnd) {
            directoryAhead = nil  // what was read is the old directory's
            if files.descriptors >= 0 { _ = close(files.descriptors) }
            files.descriptors = path.withPath(pid: pid, "fd") { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            files.code = (stat.codeStart, stat.codeEnd)
        }
        let residentPages = readAhead.map { $0.statm.flatMap(Self.residentPages) }
            ?? reader.withContents(ofOpenProcessFile: files.statm, Self.residentPages)
        guard files.descriptors >= 0, let resident = residentPages ?? nil,
              let openFDs = descriptors(in: files.descriptors, findingSockets: findingSockets, readAhead: directoryAhead)
        else { return nil }
        let started = Double(stat.startTicks) / KernelUnits.ticksPerSecond
        return ProcessSample(
            pid: pid, cpuTicks: stat.cpuTicks, startTicks: stat.startTicks, threads: stat.threads,
            residentBytes: resident * KernelUnits.pageSize, openFDs: openFDs,
            // A copy of the reused buffer only when there is something in it.
            socketInodes: inodes.isEmpty ? [] : inodes,
            lifetime: max(0, secondsSinceBoot - started)
        )
    }

    /// The soft limit on open files (appd raises it to the hard one at start-up).
    static func openFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(min(limit.rlim_cur, 1 << 24))
    }

    /// The second field of `statm` ("size resident shared text lib data dt"), in pages.
    static func residentPages(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var cursor = ByteCursor(bytes)
        guard cursor.decimal() != nil else { return nil }
        return cursor.decimal()
    }

    /// The number of open fds in the open fd directory `directory`; with
    /// `findingSockets`, also the socket inodes they link to, into `inodes`.
    /// `readAhead`: its size was read with the batch.
    private func descriptors(in directory: Int32, findingSockets: Bool, readAhead: ReadAhead?) -> Int? {
        inodes.removeAll(keepingCapacity: true)
        if !findingSockets {
            let size: Int
            if let readAhead {
                guard let read = readAhead.directorySize else { return nil }  // the process went away
                size = read
            } else {
                var info = stat()
                guard fstat(directory, &info) == 0 else { return nil }  // the process went away
                size = Int(info.st_size)
            }
            if size > 0 { return size }
        }
        return scanDescriptors(directory, findingSockets: findingSockets)
    }

    /// Counts the entries of the fd directory, listed from its start, and,
    /// with `findingSockets`, collects into `inodes` the socket inodes they
    /// link to (`socket:[12345]`), each once.
    private func scanDescriptors(_ directory: Int32, findingSockets: Bool) -> Int? {
        guard lseek(directory, 0, SEEK_SET) == 0 else { return nil }
        var count = 0
        while true {
            let filled = cs_getdents64(directory, entries.baseAddress, entries.count)
            guard filled >= 0 else { return nil }  // the process went away while being listed
            if filled == 0 { break }
            var offset = 0
            while offset < filled {
                let record = entries.baseAddress! + offset
                offset += Int(record.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
                let name = (record + 19).assumingMemoryBound(to: CChar.self)
                if name[0] == CChar(UInt8(ascii: ".")) { continue }
                count += 1
                if findingSockets, let inode = socketInode(directory: directory, name: name) { inodes.append(inode) }
            }
            // procfs fills the buffer while entries fit: room left for the
            // longest possible entry (19 + 256 bytes) means there are no more.
            if filled + 280 <= entries.count { break }
        }
        if inodes.count > 1 {
            inodes.sort()
            var unique = 1
            for index in 1..<inodes.count where inodes[index] != inodes[unique - 1] {
                inodes[unique] = inodes[index]
                unique += 1
            }
            inodes.removeLast(inodes.count - unique)
        }
        return count
    }

    private func socketInode(directory: Int32, name: UnsafePointer<CChar>) -> UInt64? {
        link.withUnsafeMutableBytes { buffer in
            let length = readlinkat(directory, name, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), buffer.count)
            guard length > 0 else { return nil }  // closed meanwhile
            return Self.socketInode(UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[..<length]))
        }
    }

    /// The inode of a `socket:[12345]` link target; nil for any other target.
    static func socketInode(_ target: UnsafeBufferPointer<UInt8>) -> UInt64? {
        let prefix: StaticString = "socket:["
        guard target.count > prefix.utf8CodeUnitCount + 1, target.last == UInt8(ascii: "]") else { return nil }
        let matches = prefix.withUTF8Buffer { prefixBytes in
            prefixBytes.indices.allSatisfy { target[$0] == prefixBytes[$0] }
        }
        guard matches else { return nil }
        var cursor = ByteCursor(target, at: prefix.utf8CodeUnitCount)
        guard let inode = cursor.decimal(), cursor.consume(UInt8(ascii: "]")), cursor.isAtEnd else { return nil }
        return inode
    }
}
