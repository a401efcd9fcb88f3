/// How a process ended, as people read it: `exited 3`, `killed by SIGKILL`.
///
/// Never a raw wait status: Workerman prints 65280 for `exit 255` and its users
/// keep asking what that number means.
public enum ExitStatus: Hashable, Sendable, Comparable, CustomStringConvertible {
    case exited(code: Int32)
    case killed(signal: UnixSignal, coreDumped: Bool = false)

    /// Decodes a status from `waitpid`.
    public init(waitStatus status: Int32) {
        let signal = status & 0x7f
        if signal == 0 {
            self = .exited(code: (status >> 8) & 0xff)
        } else {
            self = .killed(signal: UnixSignal(number: signal), coreDumped: status & 0x80 != 0)
        }
    }

    /// A clean exit: code 0. Anything else is a failure worth counting.
    public var isSuccess: Bool { self == .exited(code: 0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exited \(code)"
        case .killed(let signal, let core): return "killed by \(signal)" + (core ? " (core dumped)" : "")
        }
    }

    /// A stable key for tallies and JSON: "exit:3", "signal:KILL".
    public var key: String {
        switch self {
        case .exited(let code): return "exit:\(code)"
        case .killed(let signal, _): return "signal:\(signal.name)"
        }
    }

    public static func < (lhs: ExitStatus, rhs: ExitStatus) -> Bool { lhs.key < rhs.key }
}
