import CSystem
import Glibc
import Shared

/// Signals and reaping: what the master does to its children.
enum ProcessControl {
    /// Makes orphaned grandchildren (a worker's own children whose parent
    /// died) re-parent to the master instead of init, so the master reaps
    /// them, and can run as PID 1 in a container.
    static func setChildSubreaper() throws(SystemError) {
        try checked("prctl(PR_SET_CHILD_SUBREAPER)", cs_set_child_subreaper())
    }

    /// Sends `signal` to one process; false when it is gone (ESRCH) or not
    /// ours to signal. Refuses pid <= 0, which `kill` reads as "a whole
    /// process group" or "everything we may signal".
    @discardableResult
    static func send(_ signal: UnixSignal, to pid: Int32) -> Bool {
        pid > 0 && kill(pid, signal.number) == 0
    }

    /// Collects one exited child without blocking; nil when none has exited
    /// (or none is left). SIGCHLDs coalesce, so after one the caller loops
    /// this until nil. `pid` narrows it to one child; the master passes none.
    static func reapOne(_ pid: Int32 = -1) -> (pid: Int32, status: Int32)? {
        var status: Int32 = 0
        let reaped = retryingInterrupts { waitpid(pid, &status, WNOHANG) }
        return reaped > 0 ? (reaped, status) : nil
    }
}
