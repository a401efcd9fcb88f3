/// What a group's processes may use. Two kinds of limit live here:
/// `maxMemory` is appd's own rule (a worker whose memory stays above it is
/// restarted gracefully, PM2's `max_memory_restart`) and works everywhere;
/// `memoryMax`, `cpuMax` and `pidsMax` are written to each worker's cgroup
/// and are enforced by the kernel, so they need a cgroup v2 with those
/// controllers delegated to appd (systemd's MemoryMax=, CPUQuota=, TasksMax=).
public struct CgroupLimits: Sendable, Equatable {
    /// Bytes of memory (the worker's whole process tree) above which appd
    /// restarts it after `MemoryRule.samplesAbove` samples in a row.
    public var maxMemory: UInt64?
    /// cgroup `memory.max` of each worker, in bytes: the kernel reclaims,
    /// then OOM-kills within the worker's cgroup.
    public var memoryMax: UInt64?
    /// cgroup `cpu.max` of each worker.
    public var cpuMax: CPUQuota?
    /// cgroup `pids.max` of each worker: forks beyond it fail.
    public var pidsMax: Int?

    public init(maxMemory: UInt64? = nil, memoryMax: UInt64? = nil, cpuMax: CPUQuota? = nil, pidsMax: Int? = nil) {
        self.maxMemory = maxMemory
        self.memoryMax = memoryMax
        self.cpuMax = cpuMax
        self.pidsMax = pidsMax
    }

    /// Whether any limit needs a cgroup controller.
    public var needsControllers: Bool { memoryMax != nil || cpuMax != nil || pidsMax != nil }
}

/// A CPU bandwidth limit: `quota` microseconds of CPU time per `period`
/// microseconds, as cgroup v2's `cpu.max` takes it. "50%" is 50000 per
/// 100000; "150%" lets a worker use one and a half cores.
public struct CPUQuota: Sendable, Equatable, CustomStringConvertible {
    public var quotaMicroseconds: Int
    public var periodMicroseconds: Int

    public init(quotaMicroseconds: Int, periodMicroseconds: Int) {
        self.quotaMicroseconds = quotaMicroseconds
        self.periodMicroseconds = periodMicroseconds
    }

    /// The period systemd's CPUQuota= uses, and the kernel's default.
    public static let defaultPeriodMicroseconds = 100_000

    /// What `cpu.max` is written: "QUOTA PERIOD".
    public var cgroupText: String { "\(quotaMicroseconds) \(periodMicroseconds)" }

    public var description: String { "\(quotaMicroseconds)/\(periodMicroseconds)" }

    /// "50%" (of one core, per 100 ms) or "QUOTA/PERIOD" in microseconds;
    /// nil for anything else. The kernel takes periods of 1 ms to 1 s and
    /// quotas of at least 1 ms.
    public init?(parsing text: String) {
        let quota: Int
        let period: Int
        if text.hasSuffix("%") {
            guard let percent = Int(text.dropLast()), percent > 0, percent <= 100_000 else { return nil }
            quota = percent * Self.defaultPeriodMicroseconds / 100
            period = Self.defaultPeriodMicroseconds
        } else {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let q = Int(parts[0]), let p = Int(parts[1]) else { return nil }
            quota = q
            period = p
        }
        guard (1000...1_000_000).contains(period), quota >= 1000 else { return nil }
        self.init(quotaMicroseconds: quota, periodMicroseconds: period)
    }
}

/// Byte counts as a config writes them: a number of bytes, or a string with
/// a binary unit, "512K", "100M", "2G" (K = 1024).
public enum ByteSize {
    public static func parse(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        guard let last = text.last else { return nil }
        let (digits, factor) = units[Character(last.uppercased())].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = UInt64(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }
}
