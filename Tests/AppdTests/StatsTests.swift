import Foundation
import Glibc
import Testing
@testable import DaemonShell
@testable import SupervisorCore

/// The /proc and sock_diag readers behind `status` and `connections`: the
/// parsers against fixture lines, then the collector against real sockets and
/// processes of this test. The fixtures of /proc/net/tcp are as a
/// little-endian host prints them (x86-64, arm64).
@Suite(.serialized) struct StatsTests {
    // MARK: /proc/PID/stat, statm, fd links

    @Test func statLineIsParsedFromTheLastParenthesis() throws {
        // comm is "a) (b c)" — spaces, ") (" and a final ")" inside the parentheses.
        let line = "4242 (a) (b c)) S 1 4242 4242 0 -1 4194560 1234 0 5 0 250 75 -3 -4 20 0 7 0 987654 "
            + "12345678 900 18446744073709551615 1 1 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(ProcessStatLine.parse(line))
        #expect(stat == ProcessStatLine(state: UInt8(ascii: "S"), userTicks: 250, systemTicks: 75, threads: 7,
                                        startTicks: 987654, codeStart: 1, codeEnd: 1))
        #expect(stat.cpuTicks == 325)
    }

    @Test func statLineWithoutParenthesisOrFieldsIsRejected() {
        #expect(ProcessStatLine.parse("4242 comm S 1 2 3") == nil)
        #expect(ProcessStatLine.parse("4242 (comm) S 1 2 3") == nil)
        // Cut before starttime.
        #expect(ProcessStatLine.parse("1 (c) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0") == nil)
        #expect(ProcessStatLine.parse("") == nil)
    }

    @Test func statmGivesResidentPagesAndSocketLinksGiveInodes() {
        #expect("2048 731 512 10 0 300 0\n".withUTF8Buffer(ProcessSampler.residentPages) == 731)
        #expect("2048".withUTF8Buffer(ProcessSampler.residentPages) == nil)
        #expect("socket:[12345]".withUTF8Buffer(ProcessSampler.socketInode) == 12345)
        #expect("pipe:[12345]".withUTF8Buffer(ProcessSampler.socketInode) == nil)
        #expect("socket:[]".withUTF8Buffer(ProcessSampler.socketInode) == nil)
        #expect("socket:[12a]".withUTF8Buffer(ProcessSampler.socketInode) == nil)
        #expect("/dev/null".withUTF8Buffer(ProcessSampler.socketInode) == nil)
    }

    @Test func sockstatGivesTheHashedTCPSockets() {
        let sockstat = "sockets: used 74\nTCP: inuse 12 orphan 0 tw 3 alloc 15 mem 7\nUDP: inuse 2 mem 0\n"
        #expect(sockstat.withUTF8Buffer { TCPConnectionCensus.inuse($0, line: "TCP: inuse ") } == 12)
        #expect("TCP6: inuse 0\nUDP6: inuse 1\n".withUTF8Buffer { TCPConnectionCensus.inuse($0, line: "TCP6: inuse ") } == 0)
        #expect("UDP6: inuse 1\n".withUTF8Buffer { TCPConnectionCensus.inuse($0, line: "TCP6: inuse ") } == nil)
        #expect("TCP: inuse \n".withUTF8Buffer { TCPConnectionCensus.inuse($0, line: "TCP: inuse ") } == nil)
    }

    @Test func loadAverageIsParsed() {
        #expect(LoadAverage.parse("0.52 1.58 10.59 1/234 5678\n") == [0.52, 1.58, 10.59])
        #expect(LoadAverage.parse("garbage") == nil)
        #expect(LoadAverage.current()?.count == 3)
    }

    @Test func linesAreSplitAcrossChunksOfTheBuffer() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("appd-stats-\(getpid())").path
        defer { unlink(path) }
        // 64-byte buffer (the minimum): lines straddle chunk ends, one is longer than the buffer.
        let lines = (0..<50).map { "line \($0) " + String(repeating: "x", count: $0 * 3) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        var reader = ProcFileReader(capacity: 64)
        var seen: [String] = []
        try reader.forEachLine(ofFile: path) { seen.append(String(decoding: $0, as: UTF8.self)) }
        #expect(seen.joined() == lines.joined())
        #expect(Array(seen.prefix(10)) == Array(lines.prefix(10)))
        #expect(throws: SystemError.self) { try reader.forEachLine(ofFile: path + ".missing") { _ in } }
    }

    // MARK: /proc/net/tcp and tcp6, states

    @Test func tcpLinesGiveAddressesStateQueuesAndInode() throws {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
        #expect(ProcNetTCPLine.parse(header, ipv6: false) == nil)

        let listen = try #require(ProcNetTCPLine.parse(
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000  1000        0 41234 1 "
                + "0000000000000000 100 0 0 10 0", ipv6: false)?.connection)
        #expect(listen == TCPConnection(local: "127.0.0.1:8080", remote: "0.0.0.0:0", state: .listen, sendQueue: 0,
                                        receiveQueue: 5, inode: 41234))

        let established = try #require(ProcNetTCPLine.parse(
            "  12: 0A00A8C0:1F90 6401A8C0:D431 01 0000001A:00000003 01:00000014 00000000     0        0 777 2 "
                + "0000000000000000 20 4 30 10 -1", ipv6: false)?.connection)
        #expect(established == TCPConnection(local: "192.168.0.10:8080", remote: "192.168.1.100:54321",
                                             state: .established, sendQueue: 26, receiveQueue: 3, inode: 777))

        let timeWait = try #require(ProcNetTCPLine.parse(
            "   3: 0100007F:1F90 0100007F:C350 06 00000000:00000000 03:000016A1 00000000     0        0 0 3 "
                + "0000000000000000", ipv6: false))
        #expect(timeWait.inode == 0)
        #expect(timeWait.connection?.state == .timeWait)
    }

    @Test func tcp6LinesIncludingIPv4MappedAddresses() throws {
        let loopback = try #require(ProcNetTCPLine.parse(
            "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
                + "00000000:00000000 00:00000000 00000000  1000        0 5001 1 0000000000000000 100 0 0 10 0",
            ipv6: true)?.connection)
        #expect(loopback.local == "[::1]:8080")
        #expect(loopback.remote == "[::]:0")
        #expect(loopback.state == .listen)
        #expect(loopback.inode == 5001)

        let mapped = try #require(ProcNetTCPLine.parse(
            "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00006401A8C0:D431 01 "
                + "00000000:00000000 00:00000000 00000000  1000        0 5002 1 0000000000000000 20 4 30 10 -1",
            ipv6: true)?.connection)
        #expect(mapped.local == "127.0.0.1:8080")
        #expect(mapped.remote == "192.168.1.100:54321")

        let global = try #require(ProcNetTCPLine.parse(
            "   2: B80D0120000000000000000001000000:01BB B80D012000000000FFFF0000000000FF:A000 08 "
                + "00000000:00000000 00:00000000 00000000  1000        0 5003 1 0000000000000000 20 4 30 10 -1",
            ipv6: true)?.connection)
        #expect(global.local == "[2001:db8::1]:443")
        #expect(global.remote == "[2001:db8::ffff:ff00:0]:40960")
        #expect(global.state == .closeWait)

        // An IPv4 line read as tcp6 is malformed, not misread.
        #expect(ProcNetTCPLine.parse(
            "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1",
            ipv6: true) == nil)
    }

    @Test func stateNamesAndTheSockDiagMask() {
        #expect(TCPState(rawValue: 0x01)?.name == "ESTABLISHED")
        #expect(TCPState(rawValue: 0x06)?.name == "TIME_WAIT")
        #expect(TCPState(rawValue: 0x0A)?.name == "LISTEN")
        #expect(TCPState(rawValue: 0x08)?.key == "close_wait")
        #expect(TCPState(rawValue: 0x0C) == .newSynReceived)
        #expect(TCPState(rawValue: 0) == nil)
        #expect(TCPState(rawValue: 13) == nil)
        #expect(TCPState.allCases.map(\.name) == [
            "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT",
            "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
        ])
        #expect(TCPState.ownableMask & TCPState.timeWait.maskBit == 0)
        #expect(TCPState.ownableMask & TCPState.newSynReceived.maskBit == 0)
        #expect(TCPState.ownableMask & TCPState.established.maskBit != 0)
        #expect(TCPState.ownableMask & TCPState.listen.maskBit != 0)
        #expect(TCPState.ownableMask & TCPState.closeWait.maskBit != 0)
    }

    // MARK: CPU %

    @Test func cpuPercentFromLifetimeFirstThenFromTheWindow() {
        var tracker = CPUUsageTracker(minimumWindow: 0.25, forgetAfter: 60)
        let t0 = MonotonicInstant(seconds: 1000)
        // First sample: 5 s of CPU over a 10 s life.
        #expect(tracker.percent(pid: 7, startTicks: 100, cpuSeconds: 5, lifetime: 10, at: t0) == 50)
        // 0.1 s later: too short a window, the previous figure again.
        #expect(tracker.percent(pid: 7, startTicks: 100, cpuSeconds: 5.1, lifetime: 10.1, at: t0.adding(seconds: 0.1))
            == 50)
        // 0.5 s after the baseline, 0.45 s of CPU more: 90 %.
        let percent = tracker.percent(pid: 7, startTicks: 100, cpuSeconds: 5.45, lifetime: 10.5,
                                      at: t0.adding(seconds: 0.5))
        #expect(abs(percent - 90) < 1e-9)
        // Two cores busy for 1 s: 200 %.
        let busy = tracker.percent(pid: 7, startTicks: 100, cpuSeconds: 7.45, lifetime: 11.5, at: t0.adding(seconds: 1.5))
        #expect(abs(busy - 200) < 1e-9)
        // Same pid, another process (other start time): its own lifetime average.
        #expect(tracker.percent(pid: 7, startTicks: 900, cpuSeconds: 0.5, lifetime: 2, at: t0.adding(seconds: 2)) == 25)
        // A process that just started: no division by zero.
        #expect(tracker.percent(pid: 8, startTicks: 1, cpuSeconds: 0, lifetime: 0, at: t0) == 0)
    }

    @Test func cpuTrackerForgetsPidsNoLongerAskedAbout() {
        var tracker = CPUUsageTracker(minimumWindow: 0.25, forgetAfter: 60)
        let t0 = MonotonicInstant(seconds: 1000)
        _ = tracker.percent(pid: 1, startTicks: 1, cpuSeconds: 1, lifetime: 10, at: t0)
        _ = tracker.percent(pid: 2, startTicks: 1, cpuSeconds: 1, lifetime: 10, at: t0)
        _ = tracker.percent(pid: 2, startTicks: 1, cpuSeconds: 1, lifetime: 40, at: t0.adding(seconds: 30))
        tracker.forgetStale(at: t0.adding(seconds: 61))
        #expect(tracker.trackedPids == [2])
        tracker.forget(pid: 2)
        #expect(tracker.trackedPids.isEmpty)
    }

    /// A CPU share measured on a two-core machine: it takes its turn with
    /// the end-to-end tests that load the machine.
    @Test func busyLoopShowsOverHalfACoreAndSleepAlmostNothing() async throws {
        try await EndToEnd.LoadSensitive.exclusively {
            let busy = try spawn(["/bin/sh", "-c", "while :; do :; done"])
            defer { killAndReap(busy) }
            let idle = try spawn(["/bin/sleep", "100"])
            defer { killAndReap(idle) }

            var collector = WorkerStatsCollector(cpu: CPUUsageTracker(minimumWindow: 0.25))
            var first = collector.collect([busy, idle])
            try #require(first[busy] != nil && first[idle] != nil)
            // Windows of ~300 ms until the busy loop has had its core (a loaded
            // test machine may starve it for a while), within a deadline.
            let deadline = MonotonicInstant.now().adding(seconds: 10)
            var busyPercent = 0.0, idlePercent = 100.0
            while MonotonicInstant.now() < deadline {
                let start = MonotonicInstant.now()
                while MonotonicInstant.now().seconds(since: start) < 0.3 { usleep(20_000) }
                first = collector.collect([busy, idle])
                busyPercent = first[busy]?.cpuPercent ?? 0
                idlePercent = first[idle]?.cpuPercent ?? 100
                if busyPercent > 50 && idlePercent < 5 { break }
            }
            #expect(busyPercent > 50)
            #expect(idlePercent < 5)
        }
    }

    // MARK: live processes

    @Test func thisProcessIsSampledAndAGoneOneIsNot() throws {
        let sampler = ProcessSampler()
        let mine = sampler.sample(getpid(), secondsSinceBoot: KernelUnits.secondsSinceBoot())
        let me = try #require(mine)
        #expect(me.pid == getpid())
        #expect(me.residentBytes > 1 << 20)
        #expect(me.threads >= 1)
        #expect(me.openFDs >= 3)
        #expect(me.lifetime > 0 && me.lifetime < 24 * 3600)

        let gone = try spawn(["/bin/true"])
        killAndReap(gone)
        #expect(sampler.sample(gone, secondsSinceBoot: KernelUnits.secondsSinceBoot()) == nil)
        var collector = WorkerStatsCollector()
        #expect(collector.collect([gone]).isEmpty)

        let master = WorkerStatsCollector.master()
        #expect((master.rss ?? 0) > 1 << 20)
        #expect(master.loadAverage?.count == 3)
    }

    @Test func fdsOfAChildAreCountedAndASharedSocketIsOneSocket() throws {
        let sampler = ProcessSampler()
        let plain = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(plain) }
        // sleep opens and closes locale files as it starts: wait for it to settle.
        let plainSample = settledSample(plain, sampler)
        let bare = try #require(plainSample)
        #expect(bare.openFDs == 3)
        #expect(bare.socketInodes.isEmpty)
        #expect(bare.threads == 1)

        // The same listener at fds 3 and 4, like a socket a worker dup'd.
        let listener = try tcpListener(family: AF_INET, host: "127.0.0.1")
        defer { close(listener.fd) }
        let inode = try #require(socketInode(of: listener.fd))
        let holder = try spawn(["/bin/sleep", "100"], fds: [listener.fd, listener.fd])
        defer { killAndReap(holder) }
        let holderSample = settledSample(holder, sampler)
        let holding = try #require(holderSample)
        #expect(holding.openFDs == 5)
        #expect(holding.socketInodes == [inode])

        #expect(holding.residentBytes > 100 * 1024)

        var collector = WorkerStatsCollector()
        let stats = collector.collect([plain, holder])
        #expect(stats[plain]?.connections == [])
        #expect(stats[holder]?.connections.map(\.local) == ["127.0.0.1:\(listener.port)"])
        #expect(stats[holder]?.tcpCounts == ["listen": 1])
        #expect(stats[holder]?.openFDs == 5)
    }

    /// A sampled process's stat and statm stay open and are re-read until
    /// it is released; one that went away is dropped; past the limit the
    /// files are read and closed.
    @Test func theSamplerHoldsStatFilesUntilReleased() throws {
        let sampler = ProcessSampler(maximumHeld: 1)
        let first = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(first) }
        let second = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(second) }
        let boot = KernelUnits.secondsSinceBoot()
        let firstSample = sampler.sample(first, secondsSinceBoot: boot)
        #expect(firstSample != nil)
        #expect(sampler.sample(second, secondsSinceBoot: boot) != nil)
        #expect(sampler.heldPids == [first])
        #expect(sampler.sample(first, secondsSinceBoot: boot)?.startTicks == firstSample?.startTicks)
        sampler.release(pid: first)
        #expect(sampler.heldPids.isEmpty)

        let gone = try spawn(["/bin/sleep", "100"])
        #expect(sampler.sample(gone, secondsSinceBoot: boot) != nil)
        #expect(sampler.heldPids == [gone])
        killAndReap(gone)
        #expect(sampler.sample(gone, secondsSinceBoot: boot) == nil)
        #expect(sampler.heldPids.isEmpty)
    }

    /// A worker's row covers its tree: the sampler holds each member's
    /// files while the member is listed, closes them once it is not (it
    /// exited, or left), and closes the whole tree when the worker is
    /// reaped. A collector of leaders alone sharing the sampler (metrics')
    /// leaves the members held for status alone.
    @Test func heldFilesOfATreeFollowItsMembers() throws {
        let sampler = ProcessSampler()
        let leader = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(leader) }
        let leaving = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(leaving) }
        // Reaped below (no defer: its pid may be another's by then).
        let exiting = try spawn(["/bin/sleep", "100"])
        nonisolated(unsafe) var tree = [leader, exiting, leaving]
        var status = WorkerStatsCollector(sampler: sampler)
        status.members = { pids, _ in Dictionary(uniqueKeysWithValues: pids.map { ($0, $0 == leader ? tree : [$0]) }) }
        var metrics = WorkerStatsCollector(sampler: sampler)

        #expect(status.collect([leader])[leader]?.threads == 3)
        #expect(sampler.heldPids == [leader, exiting, leaving])
        #expect(metrics.collect([leader])[leader]?.threads == 1)
        #expect(sampler.heldPids == [leader, exiting, leaving])

        killAndReap(exiting)
        tree = [leader, leaving]
        #expect(status.collect([leader])[leader]?.threads == 2)
        #expect(sampler.heldPids == [leader, leaving])

        tree = [leader]
        #expect(status.collect([leader])[leader]?.threads == 1)
        #expect(sampler.heldPids == [leader])

        tree = [leader, leaving]
        _ = status.collect([leader])
        #expect(sampler.heldPids == [leader, leaving])
        status.forget(pid: leader)
        #expect(sampler.heldPids.isEmpty)
    }

    /// A worker's cgroup.procs is held open once read and re-read from its
    /// start, to its end however long the list (a plain file stands in for
    /// the cgroup's here; the end-to-end cgroup tests read real ones); it is
    /// closed when the worker is released, and past the limit not held.
    @Test func cgroupProcsFilesAreHeldAndReadWhole() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cgroup = WorkerCgroup(path: directory, hasKillFile: false)
        let file = directory + "/cgroup.procs"
        func write(_ pids: [Int32]) throws {
            // In place (same inode), as the kernel's file changes under an open fd.
            let handle = try #require(FileHandle(forUpdatingAtPath: file))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(pids.map { "\($0)\n" }.joined().utf8))
            try handle.close()
        }
        FileManager.default.createFile(atPath: file, contents: Data())
        let files = CgroupProcsFiles(maximumHeld: 1)
        try write([4711])
        #expect(files.processes(ofWorker: 4711, in: cgroup) == [4711])
        #expect(files.heldWorkers == [4711])
        let many = (1...2000).map { Int32(1_000_000 + $0) }
        try write([4711] + many)
        #expect(files.processes(ofWorker: 4711, in: cgroup) == [4711] + many)
        try write([4711, 12])
        #expect(files.processes(ofWorker: 4711, in: cgroup) == [4711, 12])
        #expect(files.processes(ofWorker: 99, in: cgroup) == [4711, 12])
        #expect(files.heldWorkers == [4711])
        files.release(worker: 4711)
        #expect(files.heldWorkers.isEmpty)
        #expect(files.processes(ofWorker: 5, in: WorkerCgroup(path: directory + "/gone", hasKillFile: false)) == [])
        #expect(files.heldWorkers.isEmpty)
    }

    // MARK: batches read on two threads

    /// A batch gives each read what reading it alone gives, whichever
    /// thread read it: contents of every size (past the buffers' first
    /// size, so they grow on either thread), a record file's whole list,
    /// a directory's size, and nil for a read that fails; batch after batch.
    @Test func aBatchReadsEachFileAsReadingItAloneDoes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(directoryFD) }
        var info = stat()
        #expect(fstat(directoryFD, &info) == 0)
        let reader = ParallelFileReader()
        reader.sharesWithHelper = true
        for round in 0..<3 {
            var expected: [[UInt8]] = []
            var fds: [Int32] = []
            for index in 0..<200 {
                let size = index % 50 == 7 ? 100_000 + index : (index * 37 + round) % 3000
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &+ round) }
                let path = directory + "/f\(index)"
                #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
                fds.append(open(path, O_RDONLY | O_CLOEXEC))
                expected.append(bytes)
            }
            defer { for fd in fds { close(fd) } }
            let records = (1...3000).map { "\($0 + 1_000_000)\n" }.joined()
            #expect(FileManager.default.createFile(atPath: directory + "/records", contents: Data(records.utf8)))
            let recordsFD = open(directory + "/records", O_RDONLY | O_CLOEXEC)
            defer { close(recordsFD) }
            let reads = fds.map(ParallelFileReader.Read.processFile)
                + [.recordFile(recordsFD), .directorySize(directoryFD), .processFile(-1), .directorySize(-1)]
            reader.read(reads) { outcomes in
                for index in fds.indices { #expect(outcomes.bytes(index).map(Array.init) == expected[index]) }
                #expect(outcomes.bytes(fds.count).map { String(decoding: $0, as: UTF8.self) } == records)
                #expect(outcomes.size(fds.count + 1) == Int(info.st_size))
                #expect(outcomes.bytes(fds.count + 2) == nil)
                #expect(outcomes.size(fds.count + 3) == nil)
            }
        }
        reader.read([]) { _ in }
    }

    /// Sampling a list gives what sampling each alone gives; a held process
    /// that went away yields nil and is closed, and a process seen for the
    /// first time is opened and held.
    @Test func aBatchOfProcessesIsSampledAsEachAlone() throws {
        let sampler = ProcessSampler(fileReads: Self.readerSharingWithHelper())
        var pids: [Int32] = []
        for _ in 0..<16 { pids.append(try spawn(["/bin/sleep", "100"])) }
        defer { for pid in pids { killAndReap(pid) } }
        let alone = pids.map { settledSample($0, sampler) }
        #expect(alone.allSatisfy { $0 != nil })
        let gone = try spawn(["/bin/sleep", "100"])
        let boot = KernelUnits.secondsSinceBoot()
        #expect(sampler.sample(gone, secondsSinceBoot: boot) != nil)
        killAndReap(gone)
        let fresh = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(fresh) }
        let batch = sampler.sample(pids + [gone, fresh], secondsSinceBoot: boot, findingSockets: false)
        for (index, sample) in batch.prefix(pids.count).enumerated() {
            #expect(sample?.pid == pids[index])
            #expect(sample?.startTicks == alone[index]?.startTicks)
            #expect(sample?.openFDs == alone[index]?.openFDs)
            #expect(sample?.threads == 1)
        }
        #expect(batch[pids.count] == nil)
        #expect(batch[pids.count + 1]?.pid == fresh)
        #expect(sampler.heldPids == Set(pids + [fresh]))
    }

    /// Listing several workers' cgroups at once gives each its own list,
    /// from the files held since the first listing; a cgroup that is gone
    /// gives an empty list.
    @Test func cgroupProcsFilesOfManyWorkersAreReadInOneBatch() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("procs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var workers: [(leader: Int32, cgroup: WorkerCgroup)] = []
        var expected: [[Int32]] = []
        for index in 0..<40 {
            let path = directory + "/w\(index)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            let members = (0...index % 3).map { Int32(1000 + 10 * index + $0) }
            #expect(FileManager.default.createFile(atPath: path + "/cgroup.procs", contents: Data(members.map { "\($0)\n" }.joined().utf8)))
            workers.append((members[0], WorkerCgroup(path: path, hasKillFile: false)))
            expected.append(members)
        }
        let files = CgroupProcsFiles(fileReads: Self.readerSharingWithHelper())
        #expect(files.processes(ofWorkers: workers) == expected)
        #expect(files.heldWorkers == Set(workers.map(\.leader)))
        #expect(files.processes(ofWorkers: workers) == expected)
        #expect(files.processes(ofWorkers: workers + [(5, WorkerCgroup(path: directory + "/gone", hasKillFile: false))]) == expected + [[]])
    }

    private static func readerSharingWithHelper() -> ParallelFileReader {
        let reader = ParallelFileReader()
        reader.sharesWithHelper = true
        return reader
    }

    /// What a status round reads: fds counted without being listed give
    /// the listing's count, and with a connection on the host, the sockets
    /// of each worker are found as ever.
    @Test func aStatusRoundCountsFdsAndFindsSocketsWhenTheHostHasConnections() throws {
        let sampler = ProcessSampler()
        let plain = try spawn(["/bin/sleep", "100"])
        defer { killAndReap(plain) }
        let plainSample = settledSample(plain, sampler)
        let listed = try #require(plainSample)
        let counted = sampler.sample(plain, secondsSinceBoot: KernelUnits.secondsSinceBoot(), findingSockets: false)
        #expect(counted?.openFDs == listed.openFDs)
        #expect(counted?.socketInodes == [])

        let connection = try ConnectedSockets(family: AF_INET, host: "127.0.0.1")
        defer { connection.close() }
        let holder = try spawn(["/bin/sleep", "100"], fds: [connection.listener.fd, connection.server])
        defer { killAndReap(holder) }
        _ = settledSample(holder, sampler)

        #expect(TCPConnectionCensus.hostMayHaveConnections())
        var collector = WorkerStatsCollector()
        var round = WorkerStatsCollector.Round()
        let stats = collector.collect([plain, holder], in: &round)
        #expect(stats[holder]?.tcpCounts == ["established": 1, "listen": 1])
        #expect(stats[holder]?.openFDs == 5)
        #expect(stats[plain]?.connections == [])
        #expect(stats[plain]?.openFDs == listed.openFDs)
    }

    @Test func collectorReportsThisProcessesSocketsAndBothSourcesAgree() throws {
        // IPv4 listener, client and accepted end.
        let ipv4 = try ConnectedSockets(family: AF_INET, host: "127.0.0.1")
        defer { ipv4.close() }
        let (listener, client, server) = (ipv4.listener, ipv4.client, ipv4.server)
        // Unread bytes show as the receive queue of the accepted end.
        #expect(send(client.fd, "hello", 5, 0) == 5)

        // A dual-stack IPv6 listener reached over IPv4: an IPv4-mapped socket in tcp6.
        let mapped = try ConnectedSockets(family: AF_INET6, host: "::", v6Only: false, clientFamily: AF_INET, clientHost: "127.0.0.1")
        defer { mapped.close() }

        var ours: [Int32: String] = [
            listener.fd: "listener", client.fd: "client", server: "server", mapped.listener.fd: "dual",
            mapped.client.fd: "mappedClient", mapped.server: "mappedServer",
        ]
        let v6 = ipv6LoopbackWorks() ? try ConnectedSockets(family: AF_INET6, host: "::1") : nil
        defer { v6?.close() }
        if let v6 {
            ours[v6.listener.fd] = "listener6"
            ours[v6.client.fd] = "client6"
            ours[v6.server] = "server6"
        }
        let inodes = try Dictionary(uniqueKeysWithValues: ours.map { fd, name in
            (name, try #require(socketInode(of: fd)))
        })

        // The queue of unread bytes may take a moment to show on the accepted end.
        var found: [String: TCPConnection] = [:]
        for source in [TCPSocketTable.Source.sockDiag, .procNet] {
            var collector = WorkerStatsCollector(tableSource: source)
            let collected = collector.collect([getpid()])
            let stats = try #require(collected[getpid()])
            #expect(collector.lastTableSource == source)
            let byInode = Dictionary(stats.connections.map { ($0.inode, $0) }, uniquingKeysWith: { a, _ in a })
            found = inodes.compactMapValues { byInode[$0] }
            #expect(found.count == inodes.count, "\(source): \(found.keys.sorted()) of \(inodes.keys.sorted())")

            let port = listener.port
            #expect(found["listener"]?.local == "127.0.0.1:\(port)")
            #expect(found["listener"]?.state == .listen)
            #expect(found["client"]?.local == "127.0.0.1:\(client.port)")
            #expect(found["client"]?.remote == "127.0.0.1:\(port)")
            #expect(found["client"]?.state == .established)
            #expect(found["server"]?.local == "127.0.0.1:\(port)")
            #expect(found["server"]?.remote == "127.0.0.1:\(client.port)")
            #expect(found["server"]?.state == .established)
            #expect(found["server"]?.receiveQueue == 5)
            #expect(found["dual"]?.local == "[::]:\(mapped.listener.port)")
            #expect(found["mappedServer"]?.local == "127.0.0.1:\(mapped.listener.port)")
            #expect(found["mappedServer"]?.remote == "127.0.0.1:\(mapped.client.port)")
            if let v6 {
                #expect(found["listener6"]?.local == "[::1]:\(v6.listener.port)")
                #expect(found["client6"]?.remote == "[::1]:\(v6.listener.port)")
                #expect(found["server6"]?.remote == "[::1]:\(v6.client.port)")
                #expect(found["server6"]?.state == .established)
            }
            #expect(stats.tcpCountsByState[.listen, default: 0] >= (v6 == nil ? 2 : 3))
            #expect(stats.tcpCounts["established", default: 0] >= (v6 == nil ? 4 : 6))
        }

        // The two tables agree on every socket of this test, field by field.
        let wanted = Set(inodes.values)
        let fromSockDiag = try TCPSocketTable.read(from: .sockDiag, only: wanted)
        let fromProc = try TCPSocketTable.read(from: .procNet, only: wanted)
        #expect(fromSockDiag == fromProc)
        #expect(fromSockDiag.count == wanted.count)
        #expect(TCPSocketTable.read(only: wanted).source == .sockDiag)
        #expect(TCPSocketTable.current(only: wanted) == fromSockDiag)

        // A whole table read by the caller gives the same rows.
        var collector = WorkerStatsCollector()
        let withTable = collector.collect([getpid()], table: TCPSocketTable.current())[getpid()]
        let matched = Dictionary(withTable?.connections.map { ($0.inode, $0) } ?? [], uniquingKeysWith: { a, _ in a })
        #expect(wanted.allSatisfy { matched[$0] == fromSockDiag[$0] })
    }

    // MARK: benchmark

    /// `APPD_STATS_BENCH=1 swift test -c release --filter StatsTests/benchmark`:
    /// prints collector timings (median of 21) at 100 and 1000 `sleep`
    /// workers, each holding a shared listener at fd 3 and one accepted
    /// connection at fd 4, after making `APPD_STATS_BENCH_TIME_WAIT`
    /// (default 20000) TIME_WAIT sockets. Prints, asserts nothing. On a
    /// shared host, run the built test binary under `unshare -n` (after
    /// `ip link set lo up`) so that other programs' sockets stay out of the
    /// tables.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["APPD_STATS_BENCH"] == "1"))
    func benchmark() throws {
        let environment = ProcessInfo.processInfo.environment
        let timeWaitCount = Int(environment["APPD_STATS_BENCH_TIME_WAIT"] ?? "") ?? 20000
        let workerCount = Int(environment["APPD_STATS_BENCH_WORKERS"] ?? "") ?? 1000
        let runs = 21

        let listener = try tcpListener(family: AF_INET, host: "127.0.0.1", backlog: 4096)
        defer { close(listener.fd) }
        try makeTimeWaitSockets(timeWaitCount, port: listener.port, listener: listener.fd)

        var pids: [Int32] = []
        var clients: [Int32] = []
        defer {
            for pid in pids { killAndReap(pid) }
            for fd in clients { close(fd) }
        }
        for _ in 0..<workerCount {
            let client = try tcpConnect(family: AF_INET, host: "127.0.0.1", port: listener.port)
            clients.append(client.fd)
            let accepted = acceptConnection(listener.fd)
            try #require(accepted >= 0)
            defer { close(accepted) }
            pids.append(try spawn(["/bin/sleep", "100"], fds: [listener.fd, accepted]))
        }

        func median(_ body: () -> Void) -> Double {
            var times: [Double] = []
            for _ in 0..<runs {
                let start = MonotonicInstant.now()
                body()
                times.append(MonotonicInstant.now().seconds(since: start) * 1000)
            }
            return times.sorted()[runs / 2]
        }
        func format(_ ms: Double) -> String { String(format: "%7.2f ms", ms) }

        var lines = [String]()
        var reader = ProcFileReader(capacity: 64 * 1024)
        var tcpLines = 0
        try reader.forEachLine(ofFile: "/proc/net/tcp") { _ in tcpLines += 1 }
        lines.append("host: /proc/net/tcp lists \(tcpLines - 1) sockets; \(workerCount) workers")
        for source in [TCPSocketTable.Source.sockDiag, .procNet] {
            lines.append("table alone, \(source.rawValue): " + format(median { _ = try? TCPSocketTable.read(from: source) }))
            lines.append("  same, no row formatted: " + format(median { _ = try? TCPSocketTable.read(from: source, only: [0]) }))
        }
        for count in [100, workerCount] where count <= workerCount {
            let some = Array(pids.prefix(count))
            let sampler = ProcessSampler()
            let sampling = median {
                let boot = KernelUnits.secondsSinceBoot()
                for pid in some { _ = sampler.sample(pid, secondsSinceBoot: boot) }
            }
            lines.append("sample \(count) pids alone (stat, statm, fd):   \(format(sampling))")
            for source in [TCPSocketTable.Source.sockDiag, .procNet] {
                var collector = WorkerStatsCollector(tableSource: source)
                var connections = 0
                let ms = median { connections = collector.collect(some).values.reduce(0) { $0 + $1.connections.count } }
                lines.append("collect \(count) pids, \(source.rawValue): \(format(ms)) (\(connections) sockets matched)")
            }
        }
        print("StatsTests.benchmark\n  " + lines.joined(separator: "\n  "))
    }
}

// MARK: - helpers

/// Starts `arguments` as the master starts workers; `fds` become the
/// child's fds 3, 4, ... (LISTEN_FDS).
private func spawn(_ arguments: [String], fds: [Int32] = []) throws -> Int32 {
    try Spawner.spawn(SpawnRequest(
        executable: arguments[0], arguments: arguments, environment: [:], workingDirectory: "/", listenFDs: fds,
        listenNames: fds.map { _ in "fd" }, stdout: FileIO.nullDevice(), stderr: FileIO.nullDevice()
    ))
}

/// A sample of `pid` once it sleeps (state S) with the same fds twice in a row.
private func settledSample(_ pid: Int32, _ sampler: ProcessSampler) -> ProcessSample? {
    var previous: ProcessSample?
    let deadline = MonotonicInstant.now().adding(seconds: 5)
    while MonotonicInstant.now() < deadline {
        guard let sample = sampler.sample(pid, secondsSinceBoot: KernelUnits.secondsSinceBoot()) else { return nil }
        var reader = ProcFileReader()
        let sleeping = reader.withContents(ofFile: "/proc/\(pid)/stat") { ProcessStatLine.parse($0)?.state == UInt8(ascii: "S") }
        if sleeping == true, let previous, previous.openFDs == sample.openFDs { return sample }
        previous = sample
        usleep(10_000)
    }
    return previous
}

private func killAndReap(_ pid: Int32) {
    kill(pid, SIGKILL)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
}

/// A TCP listener, a client connected to it and the accepted end, all
/// close-on-exec; `close()` closes the three.
private struct ConnectedSockets {
    let listener: (fd: Int32, port: UInt16)
    let client: (fd: Int32, port: UInt16)
    let server: Int32

    /// Listens on `host` (port 0) and connects from `clientFamily` to
    /// `clientHost` at the port it got.
    init(family: Int32, host: String, v6Only: Bool = true, clientFamily: Int32? = nil, clientHost: String? = nil) throws {
        listener = try tcpListener(family: family, host: host, v6Only: v6Only)
        do {
            client = try tcpConnect(family: clientFamily ?? family, host: clientHost ?? host, port: listener.port)
        } catch {
            Glibc.close(listener.fd)
            throw error
        }
        server = acceptConnection(listener.fd)
        guard server >= 0 else {
            let error = SystemError.last("accept")
            Glibc.close(client.fd)
            Glibc.close(listener.fd)
            throw error
        }
    }

    func close() {
        for fd in [listener.fd, client.fd, server] { Glibc.close(fd) }
    }
}

/// accept, close-on-exec so that no other test's child inherits it.
private func acceptConnection(_ listener: Int32) -> Int32 {
    let fd = accept(listener, nil, nil)
    if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return fd
}

private func socketInode(of fd: Int32) -> UInt64? {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return nil }
    return UInt64(info.st_ino)
}

/// A listening TCP socket on `host` port 0 (the kernel picks) and the port it got.
private func tcpListener(
    family: Int32, host: String, v6Only: Bool = true, backlog: Int32 = 16
) throws -> (fd: Int32, port: UInt16) {
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError.last("socket") }
    if family == AF_INET6 {
        var flag: Int32 = v6Only ? 1 : 0
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &flag, socklen_t(MemoryLayout<Int32>.size))
    }
    let bound = withSocketAddress(family: family, host: host, port: 0) { bind(fd, $0, $1) }
    guard bound == 0, listen(fd, backlog) == 0 else {
        let error = SystemError.last("bind/listen(\(host))")
        close(fd)
        throw error
    }
    return (fd, localPort(fd))
}

/// A connected TCP client socket and its local port.
private func tcpConnect(family: Int32, host: String, port: UInt16) throws -> (fd: Int32, port: UInt16) {
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError.last("socket") }
    let connected = withSocketAddress(family: family, host: host, port: port) { connect(fd, $0, $1) }
    guard connected == 0 else {
        let error = SystemError.last("connect(\(host):\(port))")
        close(fd)
        throw error
    }
    return (fd, localPort(fd))
}

private func withSocketAddress(
    family: Int32, host: String, port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
) -> Int32 {
    if family == AF_INET6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        inet_pton(AF_INET6, host, &address.sin6_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

private func localPort(_ fd: Int32) -> UInt16 {
    ListeningSocket.localPort(fd) ?? 0
}

private func ipv6LoopbackWorks() -> Bool {
    guard let listener = try? tcpListener(family: AF_INET6, host: "::1") else { return false }
    close(listener.fd)
    return true
}

/// Leaves `count` TIME_WAIT sockets on the host: connect, accept, and close
/// the client end first (the side that closes first waits 60 s in TIME_WAIT).
private func makeTimeWaitSockets(_ count: Int, port: UInt16, listener: Int32) throws {
    for _ in 0..<count {
        let client = try tcpConnect(family: AF_INET, host: "127.0.0.1", port: port)
        let accepted = acceptConnection(listener)
        close(client.fd)
        if accepted >= 0 { close(accepted) }
    }
}
