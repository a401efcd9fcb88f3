import SupervisorCore
import Glibc

/// Gathers `WorkerStats` for the pids of a request, when a client asks
/// (`status`, `connections`, SIGUSR2/SIGIO) and never on a timer.
///
/// Cost is one read of the TCP socket table per call, plus a handful of
/// system calls per process (`stat`, `statm`, the `fd` directory and a
/// readlink per fd; see `ProcessSampler`). The table is read only when some process has a socket
/// and only the sockets they own are formatted.
///
/// Not thread-safe: the master's event loop owns it, and it keeps the CPU
/// baselines between calls.
struct WorkerStatsCollector {
    private let sampler = ProcessSampler()
    private(set) var cpu: CPUUsageTracker
    private let tableSource: TCPSocketTable.Source?

    /// Where the last call's TCP table came from (nil: no process had a socket).
    private(set) var lastTableSource: TCPSocketTable.Source?
    /// Why sock_diag failed on the last call, if it did: worth a log line.
    private(set) var lastSockDiagFailure: SystemError?
    /// Each worker's processes, leader first (`ProcessGroupWatch.members`):
    /// a worker's figures cover its whole tree, so a pre-fork server's
    /// children count. The default is the leader alone.
    var members: ([Int32]) -> [Int32: [Int32]] = { pids in Dictionary(pids.map { ($0, [$0]) }) { first, _ in first } }
    /// The memory a worker's cgroup is charged (`memory.current`), where
    /// the memory controller is on: its whole tree, page cache it caused
    /// included, as the kernel's limit counts it. nil: the sum of RSS.
    var chargedMemory: (Int32) -> UInt64? = { _ in nil }

    /// A reaped worker's CPU baseline is of no further use.
    mutating func forget(pid: Int32) { cpu.forget(pid: pid) }

    /// `tableSource`: nil (the default) uses sock_diag and falls back to
    /// /proc/net; a source pins it, for tests and benchmarks.
    init(cpu: CPUUsageTracker = CPUUsageTracker(), tableSource: TCPSocketTable.Source? = nil) {
        self.cpu = cpu
        self.tableSource = tableSource
    }

    /// pid → figures for each pid that still exists; a process that exited
    /// before or during the call is left out. Reads the TCP table once,
    /// after the fds, and formats only the sockets these processes own.
    mutating func collect(_ pids: [Int32], now: MonotonicInstant = .now()) -> [Int32: WorkerStats] {
        let samples = sample(pids)
        let wanted = samples.reduce(into: Set<UInt64>()) { $0.formUnion($1.socketInodes) }
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

    /// One request collected in slices (so the first slice can be sent
    /// while the next is read): the TCP table is read once, by the first
    /// slice that has a socket, and shared by the rest.
    struct Round {
        fileprivate var table: [UInt64: TCPConnection]?
    }

    mutating func collect(_ pids: [Int32], in round: inout Round, now: MonotonicInstant = .now()) -> [Int32: WorkerStats] {
        let samples = sample(pids)
        if round.table == nil, samples.contains(where: { !$0.socketInodes.isEmpty }) {
            round.table = readTable(only: nil)
        }
        return assemble(samples, table: round.table ?? [:], now: now)
    }

    /// A worker's leader and the other processes of its tree, sampled together.
    private struct TreeSample {
        var leader: ProcessSample
        var others: [ProcessSample]

        var all: [ProcessSample] { [leader] + others }
        var socketInodes: Set<UInt64> { Set(all.flatMap(\.socketInodes)) }
    }

    private func sample(_ pids: [Int32]) -> [TreeSample] {
        let bootNow = KernelUnits.secondsSinceBoot()
        let trees = members(pids)
        var samples: [TreeSample] = []
        samples.reserveCapacity(pids.count)
        for pid in pids {
            guard let leader = sampler.sample(pid, secondsSinceBoot: bootNow) else { continue }
            let others = (trees[pid] ?? []).filter { $0 != pid }.compactMap { sampler.sample($0, secondsSinceBoot: bootNow) }
            samples.append(TreeSample(leader: leader, others: others))
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
            var connections = tree.socketInodes.compactMap { table[$0] }
            if connections.count > 1 { connections.sort(by: Self.listingOrder) }
            let processes = tree.all
            result[tree.leader.pid] = WorkerStats(
                pid: tree.leader.pid, rss: chargedMemory(tree.leader.pid) ?? processes.reduce(0) { $0 + $1.residentBytes },
                cpuPercent: processes.reduce(0) { $0 + cpu.percent(of: $1, at: now) },
                cpuSeconds: processes.reduce(0) { $0 + $1.cpuSeconds },
                openFDs: processes.reduce(0) { $0 + $1.openFDs }, threads: processes.reduce(0) { $0 + $1.threads },
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
