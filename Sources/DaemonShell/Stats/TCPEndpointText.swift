import Glibc

/// An IP address as the kernel stores it: four 32-bit words whose bytes in
/// memory are the address in network order. Both `/proc/net/tcp` (which
/// prints each word with `%08X` as the host reads it) and sock_diag
/// (`__be32 idiag_src[4]`) give addresses in this shape; IPv4 uses the first word.
typealias IPAddressWords = (UInt32, UInt32, UInt32, UInt32)

/// Writes "address:port" the way `ss` and browsers do: `127.0.0.1:8080`,
/// `[::1]:8080`, and an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as the
/// IPv4 address it stands for, since that is what the peer really is.
enum TCPEndpointText {
    static func format(ipv6: Bool, address: IPAddressWords, port: UInt16) -> String {
        withUnsafeBytes(of: address) { bytes in
            guard ipv6 else { return ipv4(bytes, from: 0, port: port) }
            let mapped = address.0 == 0 && address.1 == 0 && bytes[8] == 0 && bytes[9] == 0
                && bytes[10] == 0xff && bytes[11] == 0xff
            if mapped { return ipv4(bytes, from: 12, port: port) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, bytes.baseAddress, &text, socklen_t(text.count)) != nil else { return "?:\(port)" }
            let length = text.firstIndex(of: 0) ?? text.count
            let host = String(decoding: text[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return "[\(host)]:\(port)"
        }
    }

    private static func ipv4(_ bytes: UnsafeRawBufferPointer, from start: Int, port: UInt16) -> String {
        "\(bytes[start]).\(bytes[start + 1]).\(bytes[start + 2]).\(bytes[start + 3]):\(port)"
    }
}
