import CSystem
import Glibc
import Shared
import SupervisorCore

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

    /// Sends `signal` to the process group `leader` leads (each worker leads
    /// its own), reaching what the worker forked too.
    @discardableResult
    static func sendToProcessGroup(_ signal: UnixSignal, leader: Int32) -> Bool {
        leader > 1 && kill(-leader, signal.number) == 0
    }

    /// Whether any process is still in the group `pgid` (signal 0 checks
    /// without sending anything).
    static func processGroupExists(_ pgid: Int32) -> Bool {
        pgid > 1 && (kill(-pgid, 0) == 0 || errno == EPERM)
    }

    /// What `getpgid` says of a process.
    enum ProcessGroupLookup: Equatable, Sendable {
        case group(Int32)
        /// No such process (ESRCH): it has exited and been reaped.
        case gone
        /// Any other failure (EPERM: another session, on some systems).
        case unknown
    }

    /// The process group `pid` belongs to. Refuses pid <= 0, which
    /// `getpgid` reads as "the calling process".
    static func processGroup(of pid: Int32) -> ProcessGroupLookup {
        guard pid > 0 else { return .unknown }
        let group = getpgid(pid)
        if group >= 0 { return .group(group) }
        return errno == ESRCH ? .gone : .unknown
    }

    /// The current children of this process (workers, and grandchildren
    /// re-parented to it as subreaper), from /proc.
    static func children() -> [Int32] {
        let pid = getpid()
        let path = "/proc/\(pid)/task/\(pid)/children"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var text: [UInt8] = []
        while case .bytes(let chunk) = FileIO.read(fd, max: 64 * 1024) { text += chunk }
        return text.split(separator: UInt8(ascii: " ")).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
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
