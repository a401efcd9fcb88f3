import Glibc

extension EndToEnd {
    /// A TCP socket bound on 127.0.0.1 that the test holds, e.g. to make an
    /// address already in use.
    final class TCPListener: @unchecked Sendable {
        let fd: Int32
        let port: UInt16

        init(port: UInt16, listen: Bool = true) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SyscallError.last("socket") }
            var address = loopbackAddress(port: port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let error = SyscallError.last("bind(127.0.0.1:\(port))")
                Glibc.close(fd)
                throw error
            }
            if listen, Glibc.listen(fd, 16) != 0 {
                let error = SyscallError.last("listen")
                Glibc.close(fd)
                throw error
            }
            var actual = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &actual) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.fd = fd
            self.port = UInt16(bigEndian: actual.sin_port)
        }

        private var closed = false
        func close() {
            guard !closed else { return }
            closed = true
            Glibc.close(fd)
        }

        deinit { close() }
    }

    /// 127.0.0.1:port.
    static func loopbackAddress(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
