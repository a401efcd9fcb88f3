/// One `rlimits` entry of a group: a soft and a hard limit the child sets
/// with setrlimit before it drops its privileges (raising a hard limit
/// needs root), like systemd's `LimitNOFILE=` and friends.
///
/// A number sets both limits; `{soft, hard}` each; `"infinity"` means no
/// limit (RLIM_INFINITY).
public struct ResourceLimit: Hashable, Sendable, CustomStringConvertible {
    /// RLIM_INFINITY on Linux: all bits set.
    public static let infinity = UInt64.max

    public var soft: UInt64
    public var hard: UInt64

    public init(soft: UInt64, hard: UInt64) {
        self.soft = soft
        self.hard = hard
    }

    /// `65536`, `1024/4096`, `infinity`: the soft limit, then the hard one
    /// when it differs.
    public var description: String {
        soft == hard ? Self.text(soft) : "\(Self.text(soft))/\(Self.text(hard))"
    }

    static func text(_ value: UInt64) -> String { value == infinity ? "infinity" : String(value) }
}

/// The resources `rlimits` may name: setrlimit's, spelled as systemd's
/// `Limit*=` settings in lower case (`nofile` for LimitNOFILE=,
/// RLIMIT_NOFILE). Units are the kernel's: bytes for sizes, seconds for
/// `cpu`, microseconds for `rttime`.
public enum ResourceLimitName: String, CaseIterable, Hashable, Sendable, Comparable {
    case `as`, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack

    /// The RLIMIT_* number setrlimit takes: Linux's generic numbering (x86_64,
    /// arm64). Swift does not import most RLIMIT_* constants (glibc defines
    /// them as macros), so they are written here and checked against glibc's
    /// at compile time in csystem.c.
    public var resource: Int32 {
        switch self {
        case .cpu: 0
        case .fsize: 1
        case .data: 2
        case .stack: 3
        case .core: 4
        case .rss: 5
        case .nproc: 6
        case .nofile: 7
        case .memlock: 8
        case .as: 9
        case .locks: 10
        case .sigpending: 11
        case .msgqueue: 12
        case .nice: 13
        case .rtprio: 14
        case .rttime: 15
        }
    }

    /// `RLIMIT_NOFILE`, for messages about a failed setrlimit.
    public var constantName: String { "RLIMIT_" + rawValue.uppercased() }

    public static func < (left: Self, right: Self) -> Bool { left.rawValue < right.rawValue }
}
