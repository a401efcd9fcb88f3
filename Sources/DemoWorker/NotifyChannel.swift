import Glibc

/// sd_notify(3) without libsystemd: datagrams of newline-separated
/// `KEY=value` assignments to the unix socket named by NOTIFY_SOCKET. One
/// socket is opened and reused. The worker also runs with no NOTIFY_SOCKET
/// at all; then sending does nothing.
///
/// The master's socket holds only a few datagrams (net.unix.max_dgram_qlen,
/// 10 by default) until it reads them, so when many workers start at once a
/// send can find the queue full. READY=1 must not be lost to that, so sends
/// retry with a short growing pause, for a bounded time: a worker never
/// blocks forever on a master that does not read.
struct NotifyChannel {
    /// How long to keep retrying READY=1 (and the STATUS sent with it): the
    /// master waits for it, and a lost one fails the start or a whole reload
    /// after readyTimeout.
    static let readinessPatience = Seconds(3)
    /// How long to keep retrying anything else: a stats report or a watchdog
    /// ping is sent again soon anyway, STOPPING=1 is advisory, and every
    /// retry holds up the worker's loop (its requests, its drain).
    static let routinePatience = Seconds(0.1)

    /// The first pause after a full queue; it doubles up to `longestRetryPause`.
    private static let firstRetryPause: Int64 = 1_000_000
    private static let longestRetryPause: Int64 = 50_000_000

    /// What became of one datagram.
    enum Delivery: Equatable {
        case delivered
        /// No NOTIFY_SOCKET: nobody to tell.
        case noChannel
        /// EAGAIN or ENOBUFS until the patience ran out.
        case queueStayedFull
        /// ECONNREFUSED or ENOENT: nobody reads that socket any more.
        case masterGone
        case failed(errno: Int32)
    }

    /// -1 when there is nowhere to send.
    private let socketFD: Int32
    private let address: sockaddr_un
    private let addressLength: socklen_t

    static func fromEnvironment() -> NotifyChannel {
        guard let raw = getenv("NOTIFY_SOCKET"), raw.pointee != 0 else { return .silent }
        return NotifyChannel(target: String(cString: raw))
    }

    /// A channel that sends nothing.
    private static let silent = NotifyChannel(socketFD: -1, address: sockaddr_un(), addressLength: 0)

    private init(socketFD: Int32, address: sockaddr_un, addressLength: socklen_t) {
        self.socketFD = socketFD
        self.address = address
        self.addressLength = addressLength
    }

    /// `target` as NOTIFY_SOCKET gives it: an absolute path, or "@name" for
    /// the abstract namespace (a leading NUL in sun_path, and an address
    /// length that covers exactly the name, since abstract names are not
    /// NUL-terminated). A target that cannot be used leaves the channel silent.
    init(target: String) {
        var pathBytes = Array(target.utf8)
        if pathBytes.first == UInt8(ascii: "@") {
            pathBytes[0] = 0
        } else {
            pathBytes.append(0)
        }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count <= capacity else {
            Log.err("demo-worker: NOTIFY_SOCKET '\(target)' is longer than \(capacity) bytes; not notifying")
            self = .silent
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: pathBytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!

        let socketFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else {
            self = .silent
            return
        }
        self.init(socketFD: socketFD, address: address, addressLength: socklen_t(pathOffset + pathBytes.count))
    }

    /// Sends `assignments` ("READY=1", "STATUS=serving"...) together as one
    /// datagram, one per line, so the master sees them at once and they take
    /// one place in its queue. While the queue is full, retries after 1 ms,
    /// 2 ms, 4 ms... (at most 50 ms apart) until `patience` has passed. A
    /// master that is gone is not waited for. Every give-up is logged.
    @discardableResult
    func send(_ assignments: [String], patience: Seconds) -> Delivery {
        guard socketFD >= 0 else { return .noChannel }
        let datagram = Array(assignments.joined(separator: "\n").utf8)
        let giveUpAt = MonotonicClock.now() + patience.nanoseconds
        var pause = Self.firstRetryPause
        while true {
            if sendOnce(datagram) { return .delivered }
            let delivery: Delivery
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK, ENOBUFS:
                let now = MonotonicClock.now()
                if now < giveUpAt {
                    sleep(nanoseconds: min(pause, giveUpAt - now))
                    pause = min(pause * 2, Self.longestRetryPause)
                    continue
                }
                delivery = .queueStayedFull
            case ECONNREFUSED, ENOENT:
                delivery = .masterGone
            default:
                delivery = .failed(errno: errno)
            }
            logUndelivered(assignments, delivery, patience: patience)
            return delivery
        }
    }

    /// One non-blocking sendto(2); false with errno set when it failed.
    private func sendOnce(_ datagram: [UInt8]) -> Bool {
        var destination = address
        let sent = withUnsafePointer(to: &destination) { addressPointer in
            addressPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                datagram.withUnsafeBytes { payload in
                    sendto(socketFD, payload.baseAddress, payload.count,
                           Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL), socketAddress, addressLength)
                }
            }
        }
        return sent >= 0
    }

    /// A signal cuts the pause short, which only means an earlier retry.
    private func sleep(nanoseconds: Int64) {
        var pause = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        _ = nanosleep(&pause, nil)
    }

    private func logUndelivered(_ assignments: [String], _ delivery: Delivery, patience: Seconds) {
        let keys = assignments.map { $0.prefix { $0 != "=" } }.joined(separator: ", ")
        let reason: String
        switch delivery {
        case .queueStayedFull: reason = "the master's queue stayed full for \(patience)"
        case .masterGone: reason = "nobody reads NOTIFY_SOCKET any more"
        case .failed(let number): reason = String(cString: strerror(number))
        case .delivered, .noChannel: return
        }
        Log.err("demo-worker: notification (\(keys)) not delivered: \(reason)")
    }
}
