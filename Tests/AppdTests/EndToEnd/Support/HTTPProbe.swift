import Foundation
import Glibc

extension EndToEnd {
    /// `GET` over a raw TCP socket, so the test sees exactly what happened at
    /// the TCP level: refused, reset, or answered.
    final class HTTPProbe {
        enum Outcome: Sendable, Equatable {
            case answered(status: Int, body: String)
            /// connect(2) failed with ECONNREFUSED: nothing was listening.
            case refused
            /// Anything else: reset, timeout, a closed connection without an answer.
            case failed(String)
        }

        private let fd: Int32
        let port: UInt16

        /// One request on a fresh connection.
        static func get(port: UInt16, path: String = "/", timeoutSeconds: Int = 5) -> Outcome {
            let connection: HTTPProbe
            switch connect(port: port, timeoutSeconds: timeoutSeconds) {
            case .success(let connected): connection = connected
            case .failure(let failure): return failure.outcome
            }
            if let failure = connection.sendRequest(path: path) { return failure }
            return connection.receiveAnswer()
        }

        /// Connects; the failure is `.refused` or `.failed`.
        static func connect(port: UInt16, timeoutSeconds: Int = 5) -> Result<HTTPProbe, ConnectFailure> {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return .failure(ConnectFailure(.failed(SyscallError.last("socket").description))) }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = loopbackAddress(port: port)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if connected != 0 {
                let outcome: Outcome = errno == ECONNREFUSED ? .refused : .failed(SyscallError.last("connect").description)
                close(fd)
                return .failure(ConnectFailure(outcome))
            }
            return .success(HTTPProbe(fd: fd, port: port))
        }

        struct ConnectFailure: Error {
            var outcome: Outcome
            init(_ outcome: Outcome) { self.outcome = outcome }
        }

        private init(fd: Int32, port: UInt16) {
            self.fd = fd
            self.port = port
        }

        deinit { close(fd) }

        /// Set by `receiveAnswer`: the server said `Connection: close`.
        private(set) var answerClosesConnection = false

        /// Sends `GET path`, with `Connection: close` unless `keepAlive`; nil when sent.
        func sendRequest(path: String = "/", keepAlive: Bool = false) -> Outcome? {
            let connection = keepAlive ? "" : "Connection: close\r\n"
            return sendRaw("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(connection)\r\n")
        }

        /// Sends `request` as it is (a method other than GET, a broken
        /// request line); nil when sent.
        func sendRaw(_ request: String) -> Outcome? {
            let request = Array(request.utf8)
            var sent = 0
            while sent < request.count {
                let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if count < 0 {
                    if errno == EINTR { continue }
                    return .failed(SyscallError.last("send").description)
                }
                sent += count
            }
            return nil
        }

        /// Reads until a whole answer (head and Content-Length of body) is in.
        func receiveAnswer() -> Outcome {
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                if let outcome = Self.parse(received) {
                    let head = String(decoding: received, as: UTF8.self).lowercased()
                    answerClosesConnection = head.components(separatedBy: "\r\n\r\n").first?.contains("\r\nconnection: close") == true
                    return outcome
                }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received.append(contentsOf: buffer[..<count])
                } else if count == 0 {
                    return Self.parse(received) ?? .failed("connection closed after \(received.count) bytes without a full answer")
                } else if errno != EINTR {
                    return .failed(SyscallError.last("recv after \(received.count) bytes").description)
                }
            }
        }

        /// A complete answer, or nil.
        private static func parse(_ bytes: [UInt8]) -> Outcome? {
            switch parseAnswer(bytes) {
            case nil: return nil
            case .success(let answer)?: return .answered(status: answer.status, body: answer.body)
            case .failure(let reason)?: return .failed(reason.description)
            }
        }

        struct MalformedAnswer: Error, CustomStringConvertible { var description: String }

        /// One complete HTTP/1.1 answer (status line, headers, a
        /// Content-Length body) from the start of `bytes`; nil while it is
        /// incomplete. Shared by every test that talks HTTP to a worker.
        static func parseAnswer(_ bytes: [UInt8]) -> Result<(status: Int, body: String), MalformedAnswer>? {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
            let lines = text[..<headEnd.lowerBound].split(separator: "\r\n")
            guard let statusLine = lines.first else { return nil }
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else {
                return .failure(MalformedAnswer(description: "bad status line '\(statusLine)'"))
            }
            let length = lines.dropFirst().compactMap { line -> Int? in
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2, pair[0].lowercased() == "content-length" else { return nil }
                return Int(pair[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 0
            let body = Array(text[headEnd.upperBound...].utf8)
            guard body.count >= length else { return nil }
            return .success((status, String(decoding: body.prefix(length), as: UTF8.self)))
        }
    }
}
