import SupervisorCore
import Glibc

/// Gathers `WorkerStats` for the pids of a request, when a client asks
/// (`status`, `connections`, SIGUSR2/SIGIO) and never on a timer.
///
/// Cost is one read of the TCP socket table per call, plus a handful of
/// system calls per process (`stat`, `statm`, the `fd` directory and a
/// readlink per fd; see `ProcessSampler`). The table is read only when some
/// process has a socket, and only the sockets they own are formatted. A
/// status `Round` first asks whether the host has any connection at all
/// (`TCPConnectionCensus`), and without one skips the readlinks.
///
/// Not thread-safe: the master's event loop owns it, and it keeps the CPU
/// baselines between calls.
struct WorkerStatsCollector {
    /// May be shared with another collector (status and metrics share
    /// one): it holds /proc files open, and one set of them is enough.
    private let sampler: ProcessSampler
    private(set) var cpu: CPUUsageTracker
    private let tableSource: TCPSocketTable.Source?

    /// Where the last call's TCP table came from (nil: no process had a socket).
    private(set) var lastTableSource: TCPSocketTable.Source?
    /// Why sock_diag failed on the last call, if it did: worth a log line.
    private(set) var lastSockDiagFailure: SystemError?
    /// Each worker's processes, leader first (`ProcessGroupWatch.members`):
    /// a worker's figures cover its whole tree, so a pre-fork server's
    /// children count. nil (the default): each worker is its leader alone,
    /// and the sampler's record of trees (`ProcessSampler.sampling`) is left
    /// to the collectors that list them, so a collector of leaders sharing
    /// the sampler (metrics') never closes what the other holds.
    ///
    /// `tree`: the walk of /proc for workers without a cgroup, nil until
    /// read; a `Round` keeps it from slice to slice, so a snapshot walks
    /// /proc once (a process forked after its first slice is left out of
    /// it; one that exited since is not found when sampled).
    var members: ((_ pids: [Int32], _ tree: inout ProcessTree?) -> [Int32: [Int32]])?
    /// The memory a worker's cgroup is charged (`memory.current`), where
    /// the memory controller is on: its whole tree, page cache it caused
    /// included, as the kernel's limit counts it. nil: the sum of RSS.
    var chargedMemory: (Int32) -> UInt64? = { _ in nil }

    /// A reaped worker's CPU baseline and the /proc files held for it and
    /// for the rest of its tree are of no further use.
    mutating func forget(pid: Int32) {
        cpu.forget(pid: pid)
        sampler.release(worker: pid)
    }

    /// `tableSource`: nil (the default) uses sock_diag and falls back to
    /// /proc/net; a source pins it, for tests and benchmarks.
    init(cpu: CPUUsageTracker = CPUUsageTracker(), tableSource: TCPSocketTable.Source? = nil,
         sampler: ProcessSampler = ProcessSampler()) {
        self.cpu = cpu
        self.sampler = sampler
        self.tableSource = tableSource
    }

    /// pid → figures for each pid that still exists; a process that exited
    /// before or during the call is left out. Reads the TCP table once,
    /// after the fds, and formats only the sockets these processes own.
    mutating func collect(_ pids: [Int32], now: MonotonicInstant = .now()) -> [Int32: WorkerStats] {
        let samples = sample(pids)
        let wanted = samples.reduce(into: Set<UInt64>()) { if $1.hasSockets { $0.formUnion($1.socketInodes) } }
        return assemble(samples, table: readTable(only: wanted), now: now)
    }

    /// The same with a table the caller read (`TCPSocketTable.read()`):
    /// for a caller that collects a long list in slices between other work
    /// of its event loop and wants one table read for all the slices.
    mutating func collect(
        _ pids: [Int32], table: [UInt64: TCPConnection], now: MonotonicInstant = .now()
    ) -> [Int32: WorkerStats] {
        assemble(sample(pids), table: table, now: now)
    }

    /// One status snapshot collected in slices (so the first slice can be
    /// sent while the next is read): the TCP table is read once, by the
    /// first slice that has a socket, and shared by the rest.
    ///
    /// A status row counts connections, not listeners, so when the host
    /// has no connection at all (asked once, by the first slice) the
    /// sockets are not looked for: fds are only counted, and every row's
    /// counts are empty, as they would be.
    struct Round {
        fileprivate var findingSockets: Bool?
        fileprivate var table: [UInt64: TCPConnection]?
        /// The walk of /proc for `members`, read by the first slice that needs it.
        fileprivate var tree: ProcessTree?
    }

    mutating func collect(_ pids: [Int32], in round: inout Round, now: MonotonicInstant = .now()) -> [Int32: WorkerStats] {
        let findingSockets = round.findingSockets ?? TCPConnectionCensus.hostMayHaveConnections()
        round.findingSockets = findingSockets
        let samples = sample(pids, findingSockets: findingSockets, tree: &round.tree)
        if round.table == nil, samples.contains(where: \.hasSockets) {
            round.table = readTable(only: nil)
        }
        return assemble(samples, table: round.table ?? [:], now: now)
    }

    /// A worker's leader and the other processes of its tree, sampled together.
    private struct TreeSample {
        var leader: ProcessSample
        var others: [ProcessSample]

        /// Every process's figure summed (most workers are their leader alone).
        func sum<Figure: AdditiveArithmetic>(_ figure: (ProcessSample) -> Figure) -> Figure {
            others.reduce(figure(leader)) { $0 + figure($1) }
        }

        /// The sockets of all its processes, each once.
        var socketInodes: Set<UInt64> {
            var inodes = Set(leader.socketInodes)
            for other in others { inodes.formUnion(other.socketInodes) }
            return inodes
        }

        var hasSockets: Bool { !leader.socketInodes.isEmpty || others.contains { !$0.socketInodes.isEmpty } }
    }

    /// Samples each worker's tree. The sampler is told each worker's other
    /// members before they are sampled, so it closes what it holds of those
    /// that left the tree (a child that exited) as it goes.
    private func sample(_ pids: [Int32], findingSockets: Bool = true) -> [TreeSample] {
        var tree: ProcessTree?
        return sample(pids, findingSockets: findingSockets, tree: &tree)
    }

    private func sample(_ pids: [Int32], findingSockets: Bool, tree: inout ProcessTree?) -> [TreeSample] {
        let bootNow = KernelUnits.secondsSinceBoot()
        let trees = members?(pids, &tree)
        // Every process of every tree, leaders first, so that all their
        // held files are read in one batch.
        var othersOf: [[Int32]] = []
        othersOf.reserveCapacity(pids.count)
        var others: [Int32] = []
        for pid in pids {
            var listedOthers: [Int32] = []
            if let trees {
                let listed = trees[pid] ?? []
                if !(listed.count == 1 && listed[0] == pid) { listedOthers = listed.filter { $0 != pid } }
                sampler.sampling(members: listedOthers, of: pid)
            }
            othersOf.append(listedOthers)
            others += listedOthers
        }
        let processSamples = sampler.sample(pids + others, secondsSinceBoot: bootNow, findingSockets: findingSockets)
        var samples: [TreeSample] = []
        samples.reserveCapacity(pids.count)
        var nextOther = pids.count
        for (index, listedOthers) in othersOf.enumerated() {
            let otherSamples = processSamples[nextOther..<nextOther + listedOthers.count].compactMap { $0 }
            nextOther += listedOthers.count
            guard let leader = processSamples[index] else { continue }
            samples.append(TreeSample(leader: leader, others: otherSamples))
        }
        return samples
    }

    /// One row per worker, summed over its tree; a socket two processes
    /// share (a pre-fork server's listener) is listed once.
    private mutating func assemble(
        _ samples: [TreeSample], table: [UInt64: TCPConnection], now: MonotonicInstant
    ) -> [Int32: WorkerStats] {
        cpu.forgetStale(at: now)
        var result: [Int32: WorkerStats] = [:]
        result.reserveCapacity(samples.count)
        for tree in samples {
            var connections = tree.hasSockets ? tree.socketInodes.compactMap { table[$0] } : []
            if connections.count > 1 { connections.sort(by: Self.listingOrder) }
            var cpuPercent = cpu.percent(of: tree.leader, at: now)
            for other in tree.others { cpuPercent += cpu.percent(of: other, at: now) }
            result[tree.leader.pid] = WorkerStats(
                pid: tree.leader.pid, rss: chargedMemory(tree.leader.pid) ?? tree.sum(\.residentBytes),
                cpuPercent: cpuPercent, cpuSeconds: tree.sum(\.cpuSeconds),
                openFDs: tree.sum(\.openFDs), threads: tree.sum(\.threads),
                connections: connections
            )
        }
        return result
    }

    /// The master's RSS and the host's load average.
    static func master() -> MasterStats {
        var reader = ProcFileReader(capacity: 128)
        let rss = reader.withContents(ofFile: "/proc/self/statm", ProcessSampler.residentPages) ?? nil
        return MasterStats(rss: rss.map { $0 * KernelUnits.pageSize }, loadAverage: LoadAverage.current())
    }

    /// `inodes` nil: every socket of the host.
    private mutating func readTable(only inodes: Set<UInt64>?) -> [UInt64: TCPConnection] {
        lastSockDiagFailure = nil
        guard inodes?.isEmpty != true else {
            lastTableSource = nil
            return [:]
        }
        if let tableSource {
            lastTableSource = tableSource
            do {
                return try TCPSocketTable.read(from: tableSource, only: inodes)
            } catch {
                if tableSource == .sockDiag { lastSockDiagFailure = error }
                return [:]
            }
        }
        let reading = TCPSocketTable.read(only: inodes)
        lastTableSource = reading.source
        lastSockDiagFailure = reading.sockDiagFailure
        return reading.connections
    }

    /// Listeners first, then by state, local and remote address: stable from
    /// one `connections` to the next.
    private static func listingOrder(_ a: TCPConnection, _ b: TCPConnection) -> Bool {
        let aRank = a.state == .listen ? 0 : Int(a.state.rawValue)
        let bRank = b.state == .listen ? 0 : Int(b.state.rawValue)
        if aRank != bRank { return aRank < bRank }
        if a.local != b.local { return a.local < b.local }
        return a.remote < b.remote
    }
}
