/// The host's TCP sockets that processes own, keyed by inode: what a
/// worker's `socket:[inode]` fds are joined against.
///
/// Read once per request, whatever the number of processes asked about.
/// sock_diag first; `/proc/net/tcp` and `tcp6` when netlink fails, so stats
/// keep working where netlink is filtered, only slower.
enum TCPSocketTable {
    enum Source: String, Sendable {
        case sockDiag = "sock_diag"
        case procNet = "/proc/net/tcp"
    }

    /// A table and how it was read.
    struct Reading {
        /// inode → connection.
        var connections: [UInt64: TCPConnection]
        var source: Source
        /// Why sock_diag was not used, when it was tried and failed.
        var sockDiagFailure: SystemError?
    }

    /// inode → connection for every TCP socket some fd refers to; with
    /// `inodes`, only those (the rest are not even formatted).
    static func current(only inodes: Set<UInt64>? = nil) -> [UInt64: TCPConnection] {
        read(only: inodes).connections
    }

    /// sock_diag, else `/proc/net`; with both failing (no /proc), an empty table.
    static func read(only inodes: Set<UInt64>? = nil) -> Reading {
        do {
            return Reading(connections: try read(from: .sockDiag, only: inodes), source: .sockDiag)
        } catch let failure {
            let connections = (try? read(from: .procNet, only: inodes)) ?? [:]
            return Reading(connections: connections, source: .procNet, sockDiagFailure: failure)
        }
    }

    /// The table from one source, no fallback: for tests and benchmarks
    /// that compare the two.
    static func read(from source: Source, only inodes: Set<UInt64>? = nil) throws(SystemError) -> [UInt64: TCPConnection] {
        var table: [UInt64: TCPConnection] = [:]
        if let inodes { table.reserveCapacity(inodes.count) }
        func add(_ record: TCPSocketRecord) {
            guard record.inode != 0, inodes?.contains(record.inode) ?? true, let connection = record.connection else {
                return
            }
            table[record.inode] = connection
        }
        switch source {
        case .sockDiag:
            try SockDiagTCPDump.forEachSocket { add($0) }
        case .procNet:
            var reader = ProcFileReader(capacity: 64 * 1024)
            for (path, ipv6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
                try reader.forEachLine(ofFile: path) { line in
                    if let record = ProcNetTCPLine.parse(line, ipv6: ipv6) { add(record) }
                }
            }
        }
        return table
    }
}
