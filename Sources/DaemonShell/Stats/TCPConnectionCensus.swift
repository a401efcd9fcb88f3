/// Whether the host (the master's network namespace) has any TCP
/// connection, answered without listing its connections.
///
/// A status round asks once: when the answer is no, no worker can hold a
/// connection, so each worker's fds are counted (`ProcessSampler`) instead
/// of each being resolved with a readlink to find the sockets — at a
/// thousand workers, most of what the kernel does for a `status`.
///
/// Listing the connections would tell, but sock_diag (like /proc/net/tcp)
/// finds them by walking every bucket of the established hash, about 1 ms
/// per address family on a host with none, whatever the number of workers.
/// Counting is cheaper: /proc/net/sockstat (`TCP: inuse N`) and sockstat6
/// (`TCP6: inuse N`) give the TCP sockets the kernel has hashed, listeners
/// and connections (not TIME_WAIT or request sockets, which no fd holds),
/// from counters; and sock_diag lists the listeners alone from the small
/// listening hash. Equal counts in both families: no connection.
enum TCPConnectionCensus {
    /// false only when the counts say so; true when any of them cannot be read.
    static func hostMayHaveConnections() -> Bool {
        var reader = ProcFileReader(capacity: 1024)
        guard let hashed4 = reader.withContents(ofFile: "/proc/net/sockstat", { inuse($0, line: "TCP: inuse ") }) ?? nil
        else { return true }
        let hashed6: UInt64
        switch reader.withContents(ofFile: "/proc/net/sockstat6", { inuse($0, line: "TCP6: inuse ") }) {
        case nil: hashed6 = 0  // no sockstat6: a kernel without IPv6, so no TCP6 socket
        case let count??: hashed6 = count
        case .some(nil): return true
        }
        if hashed4 == 0 && hashed6 == 0 { return false }
        var listeners4: UInt64 = 0
        var listeners6: UInt64 = 0
        do {
            try SockDiagTCPDump.forEachSocket(states: TCPState.listen.maskBit) { socket in
                if socket.ipv6 { listeners6 += 1 } else { listeners4 += 1 }
            }
        } catch {
            return true
        }
        return hashed4 != listeners4 || hashed6 != listeners6
    }

    /// The count after `line` (`TCP: inuse `) at the start of a line of a
    /// sockstat file (`TCP: inuse 3 orphan 0 tw 12 alloc 5 mem 1`); nil
    /// without such a line.
    static func inuse(_ bytes: UnsafeBufferPointer<UInt8>, line prefix: StaticString) -> UInt64? {
        var lineStart = 0
        while lineStart < bytes.count {
            let matches = prefix.withUTF8Buffer { expected in
                bytes.count - lineStart >= expected.count
                    && expected.indices.allSatisfy { bytes[lineStart + $0] == expected[$0] }
            }
            if matches {
                var cursor = ByteCursor(bytes, at: lineStart + prefix.utf8CodeUnitCount)
                return cursor.decimal()
            }
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            lineStart = newline + 1
        }
        return nil
    }
}
