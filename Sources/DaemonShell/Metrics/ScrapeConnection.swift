import SupervisorCore

/// One connection to the metrics listener: a scraper's or a probe's single
/// request, its reply, and the wait for the peer to close.
///
/// Its life is bounded from the start (`deadline`) and its buffers by the
/// head limit and one reply; a client that says nothing, or reads nothing,
/// is closed when its time is up.
final class ScrapeConnection {
    enum Phase: Equatable {
        /// Reading the request head.
        case reading
        /// The request asked for the exposition, which comes on a later turn.
        case awaitingMetrics
        /// Writing the reply (EPOLLOUT while the socket is full).
        case writing
        /// The reply is out and the sending side shut: whatever the client
        /// still sends is read and dropped until it closes, so that closing
        /// with unread bytes never resets the reply away.
        case draining
    }

    let number: Int32
    let fd: Int32
    private(set) var deadline: MonotonicInstant
    var phase = Phase.reading
    /// The request head so far.
    var received: [UInt8] = []
    private var head: [UInt8] = []
    private var body: [UInt8] = []
    private var written = 0

    init(number: Int32, fd: Int32, deadline: MonotonicInstant) {
        self.number = number
        self.fd = fd
        self.deadline = deadline
    }

    /// Starts writing `reply`.
    func reply(_ reply: HTTPReply) {
        head = reply.head
        body = reply.body
        written = 0
        received = []
        phase = .writing
    }

    enum Progress: Equatable {
        case done
        /// The socket is full: wait until it is writable.
        case blocked
        case failed
    }

    /// Writes what the socket takes of the head, then of the body.
    func flush() -> Progress {
        while written < head.count + body.count {
            let count: Int?
            do {
                count = written < head.count
                    ? try FileIO.write(fd, head[written...])
                    : try FileIO.write(fd, body[(written - head.count)...])
            } catch {
                return .failed
            }
            guard let count else { return .blocked }
            written += count
        }
        head = []
        body = []
        return .done
    }

    /// The reply is out: linger at most `seconds` more for the client to close.
    func startDraining(now: MonotonicInstant, seconds: Double) {
        phase = .draining
        deadline = min(deadline, now.adding(seconds: seconds))
    }
}
