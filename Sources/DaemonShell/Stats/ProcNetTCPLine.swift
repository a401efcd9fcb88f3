/// Parses a line of `/proc/net/tcp` or `/proc/net/tcp6`:
///
/// ```
///   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
///    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 ...
/// ```
///
/// Addresses are hexadecimal 32-bit words as the host reads them (so
/// 127.0.0.1 is `0100007F` on a little-endian machine), four of them in
/// `tcp6`; ports and the state are hexadecimal, the inode decimal. The
/// header line and anything malformed give nil.
enum ProcNetTCPLine {
    static func parse(_ line: UnsafeBufferPointer<UInt8>, ipv6: Bool) -> TCPSocketRecord? {
        var cursor = ByteCursor(line)
        guard cursor.decimal() != nil, cursor.consume(UInt8(ascii: ":")),
              let local = endpoint(&cursor, ipv6: ipv6), let remote = endpoint(&cursor, ipv6: ipv6),
              let state = cursor.hex(maxDigits: 2),
              let sendQueue = cursor.hex(maxDigits: 8), cursor.consume(UInt8(ascii: ":")),
              let receiveQueue = cursor.hex(maxDigits: 8),
              cursor.skipField(),  // tr:tm->when
              cursor.skipField(),  // retrnsmt
              cursor.skipField(),  // uid
              cursor.skipField(),  // timeout
              let inode = cursor.decimal()
        else { return nil }
        return TCPSocketRecord(
            ipv6: ipv6, localAddress: local.address, localPort: local.port, remoteAddress: remote.address,
            remotePort: remote.port, state: UInt8(truncatingIfNeeded: state),
            sendQueue: UInt32(truncatingIfNeeded: sendQueue), receiveQueue: UInt32(truncatingIfNeeded: receiveQueue),
            inode: inode
        )
    }

    static func parse(_ line: String, ipv6: Bool) -> TCPSocketRecord? {
        line.withUTF8Buffer { parse($0, ipv6: ipv6) }
    }

    /// `0100007F:1F90`, or 32 hex digits and a port for IPv6.
    private static func endpoint(_ cursor: inout ByteCursor, ipv6: Bool) -> (address: IPAddressWords, port: UInt16)? {
        var address: IPAddressWords = (0, 0, 0, 0)
        guard let first = cursor.hex(maxDigits: 8) else { return nil }
        address.0 = UInt32(truncatingIfNeeded: first)
        if ipv6 {
            // The words follow each other without blanks; hex() would skip
            // blanks, so check there is a digit where the next word starts.
            guard let second = word(&cursor), let third = word(&cursor), let fourth = word(&cursor) else { return nil }
            address.1 = second
            address.2 = third
            address.3 = fourth
        }
        guard cursor.consume(UInt8(ascii: ":")), let port = cursor.hex(maxDigits: 4) else { return nil }
        return (address, UInt16(port))
    }

    private static func word(_ cursor: inout ByteCursor) -> UInt32? {
        guard !cursor.isAtEnd, cursor.bytes[cursor.index] != UInt8(ascii: " ") else { return nil }
        return cursor.hex(maxDigits: 8).map { UInt32(truncatingIfNeeded: $0) }
    }
}
