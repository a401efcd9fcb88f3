import Glibc

/// Wall-clock time, for what people read (start time, exit times). The
/// supervisor core uses the monotonic clock only; this never drives a timer.
struct WallClock {
    /// Seconds since the Unix epoch.
    var seconds: Double

    static func now() -> WallClock {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return WallClock(seconds: Double(time.tv_sec) + Double(time.tv_nsec) / 1e9)
    }
}
