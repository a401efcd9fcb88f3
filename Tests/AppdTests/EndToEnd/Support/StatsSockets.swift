import Foundation
import Glibc

extension EndToEnd {
    /// A TCP connection the test keeps open: connects to 127.0.0.1:port,
    /// sends keep-alive requests and reads each answer whole, so the worker
    /// that accepted it is known (the demo web worker's hello names its id
    /// and pid) and keeps holding it afterwards. Blocking calls with a
    /// timeout; closed by `close()` or at deinit.
    final class StatsKeepAliveConnection {
        let fd: Int32
        /// The test's end: what the daemon lists as the remote port.
        let localPort: UInt16
        let port: UInt16
        private var closed = false

        init(port: UInt16, timeoutSeconds: Int = 5) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SyscallError.last("socket") }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = loopbackAddress(port: port)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                let error = SyscallError.last("connect(127.0.0.1:\(port))")
                Glibc.close(fd)
                throw error
            }
            var local = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.fd = fd
            self.port = port
            self.localPort = UInt16(bigEndian: local.sin_port)
        }

        deinit { close() }

        func close() {
            guard !closed else { return }
            closed = true
            Glibc.close(fd)
        }

        /// `GET path` on this connection (HTTP/1.1 keep-alive); the answer's
        /// status and body.
        func get(_ path: String = "/") throws -> (status: Int, body: String) {
            let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
            var sent = 0
            while sent < request.count {
                let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw SyscallError.last("send")
                }
                sent += count
            }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                if let answer = Self.answer(in: received) { return answer }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received.append(contentsOf: buffer[..<count])
                } else if count == 0 {
                    throw StatsFailure("connection closed after \(received.count) bytes without a whole answer")
                } else if errno != EINTR {
                    throw SyscallError.last("recv after \(received.count) bytes")
                }
            }
        }

        /// A complete answer; a malformed status line reads as status 0.
        private static func answer(in bytes: [UInt8]) -> (status: Int, body: String)? {
            switch HTTPProbe.parseAnswer(bytes) {
            case nil: return nil
            case .success(let answer)?: return answer
            case .failure?: return (0, "")
            }
        }
    }

    /// sd_notify datagrams sent by the test process itself (which is no
    /// worker of any daemon) to a daemon's notify socket.
    enum StatsNotifySender {
        /// One datagram; throws when sendto fails.
        static func send(_ payload: [UInt8], to path: String) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SyscallError.last("socket(AF_UNIX, SOCK_DGRAM)") }
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let pathBytes = Array(path.utf8) + [0]
            guard pathBytes.count <= MemoryLayout.size(ofValue: address.sun_path) else {
                throw StatsFailure("socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
            let sent = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress,
                                                     socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            guard sent == payload.count else { throw SyscallError.last("sendto(\(path))") }
        }

        static func send(_ text: String, to path: String) throws { try send(Array(text.utf8), to: path) }
    }

    /// A python3 interpreter binary (not a pyenv shim: a worker's pid must be
    /// the interpreter's own), for workers that speak sd_notify by hand.
    enum StatsPython {
        static let path: String? = {
            let candidates = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
            return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        }()
    }
}
