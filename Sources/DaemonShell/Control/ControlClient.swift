import Glibc
import Shared
import SupervisorCore

/// One `appctl` (or script) connection to the control socket.
///
/// Non-blocking both ways with bounded buffers: requests are framed by a
/// `LineFramer` (1 MiB per line), replies queue in `outbound` up to
/// `maximumOutbound`. A client that stops reading is dropped when that fills
/// up; the master never waits on a client.
final class ControlClient {
    /// 4 MiB: dozens of full status snapshots of a thousand processes.
    static let maximumOutbound = 4 << 20

    let number: Int32
    let fd: Int32
    var framer = LineFramer()
    private var outbound: [UInt8] = []
    private var outboundStart = 0
    /// Registered for EPOLLOUT because replies are waiting for the socket.
    var waitingToWrite = false
    /// Close once the queued replies are written (after `too_large`, `forbidden`...).
    var closeAfterFlush = false
    /// Last request received, for the idle timeout.
    var lastActivity: MonotonicInstant
    /// Since when queued replies have waited for the socket to take them: a
    /// client that does not read for `ControlServer.stallTimeout` is dropped.
    var blockedSince: MonotonicInstant?
    /// The client shut down its sending side (EOF): nothing more is read,
    /// but the replies it is owed are still sent (`printf … | nc -U` does this).
    var readClosed = false
    /// Complete request lines not yet handled: a client pipelining thousands
    /// of requests is served a batch per loop turn, not all at once.
    var hasUnhandledLines = false
    /// Closed by the server: its events stopped, its fd is closed at the end
    /// of the loop turn, and nothing more is sent to it.
    var closing = false
    /// Requests not answered with a final line yet, oldest first, each with
    /// its command (for `ControlRequestTally`).
    var unanswered: [(id: Int, command: String)] = []

    init(number: Int32, fd: Int32, now: MonotonicInstant) {
        self.number = number
        self.fd = fd
        self.lastActivity = now
    }

    var pendingBytes: Int { outbound.count - outboundStart }

    enum Outcome: Equatable {
        /// Everything queued was written.
        case flushed
        /// The socket is full; wait for EPOLLOUT.
        case blocked
        /// Over the buffer limit or the peer is gone: drop the client.
        case failed(String)
    }

    /// Queues replies and writes as much as the socket takes now: a batch
    /// (a status snapshot of a thousand processes) leaves in one write.
    func send(_ replies: some Sequence<ControlReply>) -> Outcome {
        for reply in replies {
            if let overflow = queue(reply.encodedLine()) { return overflow }
        }
        return waitingToWrite ? .blocked : flush()
    }

    /// The same with whole reply lines the caller encoded (a status slice,
    /// encoded once for every watcher that asked under the same id).
    func send(lines: [UInt8]) -> Outcome {
        if let overflow = queue(lines) { return overflow }
        return waitingToWrite ? .blocked : flush()
    }

    /// Appends to `outbound`; a failure when that would pass `maximumOutbound`.
    private func queue(_ lines: [UInt8]) -> Outcome? {
        guard pendingBytes + lines.count <= Self.maximumOutbound else {
            return .failed("it is not reading its replies (\(HumanFormat.bytes(UInt64(pendingBytes))) queued)")
        }
        outbound.append(contentsOf: lines)
        return nil
    }

    /// Writes queued replies until done or the socket is full.
    func flush() -> Outcome {
        while outboundStart < outbound.count {
            let written: Int?
            do {
                written = try FileIO.write(fd, outbound[outboundStart...])
            } catch {
                return .failed(error.description)
            }
            guard let written else { return .blocked }
            outboundStart += written
        }
        outbound.removeAll(keepingCapacity: outbound.capacity <= 64 * 1024)
        outboundStart = 0
        return .flushed
    }
}
