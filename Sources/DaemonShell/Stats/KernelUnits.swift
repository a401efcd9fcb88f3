import Glibc

/// The units /proc counts in, asked of the system once.
enum KernelUnits {
    /// Clock ticks per second (USER_HZ, `getconf CLK_TCK`): the unit of the
    /// CPU times and start time in `/proc/PID/stat`. 100 on every common
    /// Linux, but not promised.
    static let ticksPerSecond: Double = {
        let value = sysconf(Int32(_SC_CLK_TCK))
        return value > 0 ? Double(value) : 100
    }()

    /// Bytes per page: the unit of the rss in `/proc/PID/stat` and `statm`.
    static let pageSize: UInt64 = {
        let value = sysconf(Int32(_SC_PAGESIZE))
        return value > 0 ? UInt64(value) : 4096
    }()

    /// Seconds since boot on CLOCK_BOOTTIME, the clock a process's start
    /// time in `/proc/PID/stat` is counted on (it keeps counting through
    /// suspend, unlike CLOCK_MONOTONIC).
    static func secondsSinceBoot() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
