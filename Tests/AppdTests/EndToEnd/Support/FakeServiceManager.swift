import Foundation
import Glibc

extension EndToEnd {
    /// Plays systemd's side of the notify protocol for a daemon under test: a
    /// unix datagram socket whose path is given to appd as NOTIFY_SOCKET, and
    /// the messages appd sent to it, in order.
    final class FakeServiceManager: @unchecked Sendable {
        let path: String
        private let fd: Int32
        private var received: [String] = []

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw SyscallError.last("socket(AF_UNIX, SOCK_DGRAM)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8) + [0]
            precondition(bytes.count <= MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else {
                let error = SyscallError.last("bind(\(path))")
                close(fd)
                throw error
            }
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Every message received so far, oldest first.
        var messages: [String] {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                received.append(String(decoding: buffer[..<count], as: UTF8.self))
            }
            return received
        }
    }
}
