import SupervisorCore
import CSystem
import Glibc

/// A timerfd armed for the nearest deadline the supervisor core asked for
/// (a stop timeout, a backoff, a readiness timeout). One timer for all of
/// them keeps an idle master at zero wake-ups a second.
struct DeadlineTimer {
    let fd: Int32

    init() throws(SystemError) {
        fd = try checked("timerfd_create(CLOCK_MONOTONIC)", cs_timerfd_create())
    }

    /// Fires once at `instant` (a past instant fires at once); nil disarms.
    /// Re-arming replaces the previous deadline.
    func arm(at instant: MonotonicInstant?) throws(SystemError) {
        if let instant {
            try checked("timerfd_settime(\(instant))", cs_timerfd_arm(fd, instant.nanoseconds))
        } else {
            try checked("timerfd_settime(disarm)", cs_timerfd_disarm(fd))
        }
    }

    /// Consumes the expiry so the fd stops polling readable; true if it had fired.
    @discardableResult
    func acknowledge() -> Bool {
        cs_timerfd_acknowledge(fd) > 0
    }
}
