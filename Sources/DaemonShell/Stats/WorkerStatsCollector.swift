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
    private let sampler = ProcessSampler()
    private(set) var cpu: CPUUsageTracker
    private let tableSource: TCPSocketTable.Source?

    /// Where the last call's TCP table came from (nil: no process had a socket).
    private(set) var lastTableSource: TCPSocketTable.Source?
    /// Why sock_diag failed on the last call, if it did: worth a log line.
    private(set) var lastSockDiagFailure: SystemError?

    /// A reaped worker's CPU baseline and open /proc files are of no further use.
    mutating func forget(pid: Int32) {
        cpu.forget(pid: pid)
        sampler.release(pid: pid)
    }

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
    }

    mutating func collect(_ pids: [Int32], in round: inout Round, now: MonotonicInstant = .now()) -> [Int32: WorkerStats] {
        let findingSockets = round.findingSockets ?? TCPConnectionCensus.hostMayHaveConnections()
        round.findingSockets = findingSockets
        let samples = sample(pids, findingSockets: findingSockets)
        if round.table == nil, samples.contains(where: { !$0.socketInodes.isEmpty }) {
            round.table = readTable(only: nil)
        }
        return assemble(samples, table: round.table ?? [:], now: now)
    }

    private func sample(_ pids: [Int32], findingSockets: Bool = true) -> [ProcessSample] {
        let bootNow = KernelUnits.secondsSinceBoot()
        var samples: [ProcessSample] = []
        samples.reserveCapacity(pids.count)
        for pid in pids {
            if let sample = sampler.sample(pid, secondsSinceBoot: bootNow, findingSockets: findingSockets) {
                samples.append(sample)
            }
        }
        return samples
    }

    private mutating func assemble(
        _ samples: [ProcessSample], table: [UInt64: TCPConnection], now: MonotonicInstant
    ) -> [Int32: WorkerStats] {
        cpu.forgetStale(at: now)
        var result: [Int32: WorkerStats] = [:]
        result.reserveCapacity(samples.count)
        for sample in samples {
            var connections = sample.socketInodes.compactMap { table[$0] }
            if connections.count > 1 { connections.sort(by: Self.listingOrder) }
            result[sample.pid] = WorkerStats(
                pid: sample.pid, rss: sample.residentBytes, cpuPercent: cpu.percent(of: sample, at: now),
                openFDs: sample.openFDs, threads: sample.threads, connections: connections
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
