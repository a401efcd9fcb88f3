import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// A raw client of appd's control socket, for what `appctl` never does:
    /// malformed lines, oversized lines, pipelining, silence, not reading.
    ///
    /// Connects blocking, then works non-blocking: every read and write waits
    /// with poll(2) under a deadline, so a daemon that stops answering fails
    /// the test instead of hanging it. Not thread-safe: one task uses it.
    final class ControlSocketClient: @unchecked Sendable {
        let path: String
        let fd: Int32
        /// Bytes read past the last line handed out.
        private var pending: [UInt8] = []
        private var isClosed = false

        /// How a stream of replies ended.
        enum Ending: Equatable, CustomStringConvertible {
            /// read(2) returned 0: the daemon closed (or shut down) the connection.
            case endOfFile
            /// ECONNRESET: the daemon closed with our bytes still unread.
            case reset

            var description: String { self == .endOfFile ? "end of file" : "connection reset" }
        }

        /// `receiveBuffer`: SO_RCVBUF, to make a client that does not read fill up sooner.
        init(path: String, receiveBuffer: Int32? = nil) throws {
            self.path = path
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SyscallError.last("socket(AF_UNIX)") }
            if var size = receiveBuffer {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes + [0]) }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard connected == 0 else {
                let error = SyscallError.last("connect(\(path))")
                Glibc.close(fd)
                throw error
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            self.fd = fd
        }

        deinit { close() }

        func close() {
            guard !isClosed else { return }
            isClosed = true
            Glibc.close(fd)
        }

        /// shutdown(SHUT_RD): tells the kernel this client reads no more.
        /// The daemon gets no event for it; its next write fails (EPIPE).
        func shutDownReading() {
            _ = shutdown(fd, Int32(SHUT_RD))
        }

        // MARK: Writing

        /// Writes all of `bytes`, waiting for room under the deadline. Returns
        /// how many were written: fewer when the daemon closed the connection
        /// meanwhile (EPIPE/ECONNRESET), which is what it does to a client
        /// that sends an oversized line.
        @discardableResult
        func write(_ bytes: [UInt8], timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written > 0 {
                    offset += written
                    continue
                }
                switch errno {
                case EINTR: continue
                case EAGAIN: try wait(for: Int16(POLLOUT), until: deadline, timeout: timeout, "room to write to \(path)", sourceLocation)
                case EPIPE, ECONNRESET: return offset
                default: throw SyscallError.last("send(\(path))")
                }
            }
            return offset
        }

        /// Sends one request line (a `\n` is added).
        func send(_ line: String, timeout: Double = 10) throws {
            let written = try write(Array((line + "\n").utf8), timeout: timeout)
            guard written == line.utf8.count + 1 else { throw SyscallError(call: "send(\(path)): the daemon closed the connection", errno: EPIPE) }
        }

        /// Sends a request object as one compact JSON line.
        func send(json object: [String: Any], timeout: Double = 10) throws {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            try send(String(decoding: data, as: UTF8.self), timeout: timeout)
        }

        // MARK: Reading

        /// The next reply line without its `\n`; nil once the stream ended
        /// (see `ending`). Throws `WaitTimedOut` at the deadline.
        func nextLine(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while true {
                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let text = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    return text
                }
                if ending != nil { return nil }
                try fill(until: deadline, timeout: timeout, "a reply line from \(path)", sourceLocation)
            }
        }

        /// Set once read(2) saw the end of the stream.
        private(set) var ending: Ending?

        /// Reads what is there, waiting up to the deadline for something.
        private func fill(until deadline: ContinuousClock.Instant, timeout: Double, _ what: String, _ location: SourceLocation) throws {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    pending += buffer[..<count]
                    return
                }
                if count == 0 {
                    ending = .endOfFile
                    return
                }
                switch errno {
                case EINTR: continue
                case EAGAIN: try wait(for: Int16(POLLIN), until: deadline, timeout: timeout, what, location)
                case ECONNRESET:
                    ending = .reset
                    return
                default: throw SyscallError.last("read(\(path))")
                }
            }
        }

        /// The next reply, parsed; nil once the stream ended.
        func nextReply(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> ControlReplyLine? {
            guard let line = try nextLine(timeout: timeout, sourceLocation: sourceLocation) else { return nil }
            return try ControlReplyLine(line)
        }

        /// Every reply line up to and including the final one for `id` (nil:
        /// the `"id": null` error), whatever their ids. Throws if the stream
        /// ends first or the deadline passes.
        func replies(untilDoneFor id: Int?, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> [ControlReplyLine] {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            var replies: [ControlReplyLine] = []
            while true {
                let remaining = Double((deadline - ContinuousClock.now) / .milliseconds(1)) / 1000
                guard let reply = try nextReply(timeout: max(remaining, 0.001), sourceLocation: sourceLocation) else {
                    throw StreamEnded(ending: ending, replies: replies)
                }
                replies.append(reply)
                if reply.done, reply.id == id { return replies }
            }
        }

        /// Reads and discards until the stream ends; returns how it ended and
        /// how many bytes came.
        func drainToEnd(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> (ending: Ending, bytes: Int) {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            var total = pending.count
            pending.removeAll()
            while ending == nil {
                try fill(until: deadline, timeout: timeout, "\(path) to end its stream", sourceLocation)
                total += pending.count
                pending.removeAll()
            }
            return (ending!, total)
        }

        /// Whether the daemon has closed its end, seen without reading a byte
        /// (POLLRDHUP/POLLHUP are reported even with replies still unread).
        func peerHasClosed(within timeout: Double = 0) -> Bool {
            var entry = pollfd(fd: fd, events: Self.pollReadHangUp, revents: 0)
            let ready = poll(&entry, 1, Int32(timeout * 1000))
            return ready > 0 && entry.revents & (Self.pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0
        }

        /// POLLRDHUP, which Swift's Glibc module does not import (a GNU extension).
        private static let pollReadHangUp: Int16 = 0x2000

        /// Bytes the kernel holds for us, unread (FIONREAD).
        var unreadBytes: Int {
            var count: Int32 = 0
            _ = ioctl(fd, UInt(FIONREAD), &count)
            return Int(count) + pending.count
        }

        private func wait(
            for events: Int16, until deadline: ContinuousClock.Instant, timeout: Double, _ what: String, _ location: SourceLocation
        ) throws {
            let remaining = (deadline - ContinuousClock.now) / .milliseconds(1)
            guard remaining > 0 else {
                throw WaitTimedOut(what: what, seconds: timeout, location: location,
                                   context: "unread so far: \(String(decoding: pending.suffix(2000), as: UTF8.self))")
            }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            _ = poll(&entry, 1, Int32(min(remaining, 1000)))
        }

        struct StreamEnded: Error, CustomStringConvertible {
            var ending: Ending?
            var replies: [ControlReplyLine]
            var description: String {
                "the control connection ended (\(ending.map(\.description) ?? "?")) before the final line; got:\n"
                    + replies.map(\.line).joined(separator: "\n")
            }
        }
    }

    /// One reply line of the control protocol, parsed with Foundation so the
    /// test reads the wire format independently of the Swift types appd uses.
    struct ControlReplyLine: CustomStringConvertible, @unchecked Sendable {
        let line: String
        let object: [String: Any]

        init(_ line: String) throws {
            self.line = line
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw NotAnObject(line: line)
            }
            self.object = object
        }

        struct NotAnObject: Error, CustomStringConvertible {
            var line: String
            var description: String { "a reply line that is not a JSON object: \(line)" }
        }

        /// The request id; nil for `"id": null` (see `hasNullID`) or a missing id.
        var id: Int? { (object["id"] as? NSNumber)?.intValue }
        /// `"id": null` is present, as for a line that could not be read.
        var hasNullID: Bool { object["id"] is NSNull }
        var ok: Bool { (object["ok"] as? Bool) == true }
        var done: Bool { (object["done"] as? Bool) == true }
        var item: [String: Any]? { object["item"] as? [String: Any] }
        var itemType: String? { item?["type"] as? String }
        var result: [String: Any]? { object["result"] as? [String: Any] }
        var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
        var errorMessage: String? { (object["error"] as? [String: Any])?["message"] as? String }

        var description: String { line }
    }
}
