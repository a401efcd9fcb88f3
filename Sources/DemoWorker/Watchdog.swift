import Glibc

/// The worker's side of systemd's watchdog (sd_watchdog_enabled(3)): when
/// the master sets WATCHDOG_USEC, a worker that sends no WATCHDOG=1 for that
/// long counts as hung and is killed. Pinging every half interval, as
/// systemd advises, leaves room for one late or lost ping. The modes ping
/// from the loops they already run, so a ping proves that loop still turns.
struct Watchdog {
    /// Half of WATCHDOG_USEC, in nanoseconds.
    let pingInterval: Int64
    private var nextPingAt: Int64

    /// WATCHDOG_USEC that is set but not a positive integer, or a
    /// WATCHDOG_PID that is not a pid.
    struct InvalidSetting: Error, CustomStringConvertible {
        let description: String
    }

    /// The watchdog the environment asks for, or nil (logging why when the
    /// setting is unusable).
    static func fromEnvironment(pid: Int32, now: Int64) -> Watchdog? {
        let environment = { (name: String) in getenv(name).map { String(cString: $0) } }
        do {
            return try Watchdog(
                usec: environment("WATCHDOG_USEC"), pid: environment("WATCHDOG_PID"), ownPID: pid, now: now)
        } catch {
            Log.err("demo-worker: \(error); not pinging the watchdog")
            return nil
        }
    }

    /// systemd's rule: on when `usec` is a positive integer and `pid` is
    /// absent or names this process (a WATCHDOG_USEC that leaked to some
    /// other process is not its to honour); nil when off. The first ping is
    /// due half an interval from `now`.
    init?(usec: String?, pid: String?, ownPID: Int32, now: Int64) throws {
        guard let usec else { return nil }
        guard let microseconds = UInt64(usec), microseconds > 0 else {
            throw InvalidSetting(description: "WATCHDOG_USEC='\(usec)' is not a positive number of microseconds")
        }
        if let pid {
            guard let owner = Int32(pid), owner > 0 else {
                throw InvalidSetting(description: "WATCHDOG_PID='\(pid)' is not a pid")
            }
            guard owner == ownPID else { return nil }
        }
        // Past ~292 years the product would overflow; such a watchdog never fires anyway.
        let halfMicroseconds = Int64(min(microseconds / 2, UInt64(Int64.max / 1000)))
        pingInterval = max(halfMicroseconds * 1000, 1)
        nextPingAt = now + pingInterval
    }

    /// Sends WATCHDOG=1 when a ping is due; returns when the next one is.
    /// Pings stay on fixed ticks; after a stall (SIGSTOP...) the next one
    /// is a whole interval away rather than a burst of missed ones.
    mutating func pingIfDue(now: Int64, via notify: NotifyChannel) -> Int64 {
        guard now >= nextPingAt else { return nextPingAt }
        notify.send(["WATCHDOG=1"], patience: NotifyChannel.routinePatience)
        nextPingAt += pingInterval
        if nextPingAt <= now { nextPingAt = now + pingInterval }
        return nextPingAt
    }
}
