/// What the kernel says about one process at one moment: the raw material
/// of a `status` row.
struct ProcessSample: Equatable, Sendable {
    var pid: Int32
    /// utime + stime, in clock ticks.
    var cpuTicks: UInt64
    /// Start time in clock ticks after boot; with the pid it tells a process
    /// from a later one that got the same pid.
    var startTicks: UInt64
    var threads: Int
    /// Resident set size in bytes.
    var residentBytes: UInt64
    /// Open file descriptors.
    var openFDs: Int
    /// The inodes of the sockets among its fds, each once (a dup'd socket or
    /// one reached through several fds is one socket).
    var socketInodes: [UInt64]
    /// Seconds the process had been alive when sampled.
    var lifetime: Double

    /// CPU time used so far, in seconds.
    var cpuSeconds: Double { Double(cpuTicks) / KernelUnits.ticksPerSecond }
}
