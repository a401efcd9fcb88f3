import CSystem
import Glibc
import Shared
import SupervisorCore

/// A signalfd: blocked signals become readable events on the master's one
/// event loop instead of handlers that interrupt it.
///
/// Standard signals coalesce (five SIGCHLD while one is pending arrive as
/// one), so a SIGCHLD means "reap until nothing is left", never "one child".
struct SignalChannel {
    let fd: Int32

    /// The signals must already be blocked (`SignalMask.block`), or the
    /// default action runs before the channel ever sees them.
    init(signals: [UnixSignal]) throws(SystemError) {
        let numbers = signals.map(\.number)
        fd = try checked("signalfd(\(signals.map(\.name).joined(separator: ",")))",
                         cs_signalfd_create(numbers, Int32(numbers.count)))
    }

    /// Every signal pending now, in arrival order; empty when none is.
    func drain() -> [UnixSignal] {
        var signals: [UnixSignal] = []
        while case let number = cs_signalfd_next(fd), number > 0 {
            signals.append(UnixSignal(number: number))
        }
        return signals
    }
}
