import CSystem
import Glibc

/// The master's one wait point: an epoll set over the signalfd, the control
/// and notify sockets, client connections, child output pipes and the
/// deadline timer. Level-triggered, so an event not fully handled in one turn
/// comes back in the next rather than being lost.
struct EventPoll {
    /// What to be woken for. Errors and hangups are always reported.
    struct Interest: OptionSet, Sendable {
        let rawValue: UInt32
        static let readable = Interest(rawValue: UInt32(CS_POLL_IN))
        static let writable = Interest(rawValue: UInt32(CS_POLL_OUT))
    }

    /// One ready fd, named by the token it was registered with.
    struct Event: Equatable, Sendable {
        var token: UInt64
        var readable: Bool
        var writable: Bool
        /// The peer hung up (a closed pipe or socket); a read returns the rest, then EOF.
        var hangup: Bool
        var error: Bool
    }

    let fd: Int32

    init() throws(SystemError) {
        fd = try checked("epoll_create1", cs_epoll_create())
    }

    func add(fd target: Int32, events: Interest, token: UInt64) throws(SystemError) {
        try checked("epoll_ctl(ADD, fd \(target))", cs_epoll_ctl(fd, Int32(CS_POLL_ADD), target, events.rawValue, token))
    }

    func modify(fd target: Int32, events: Interest, token: UInt64) throws(SystemError) {
        try checked("epoll_ctl(MOD, fd \(target))", cs_epoll_ctl(fd, Int32(CS_POLL_MOD), target, events.rawValue, token))
    }

    /// Closing an fd removes it too; this is for fds that stay open.
    func remove(fd target: Int32) throws(SystemError) {
        try checked("epoll_ctl(DEL, fd \(target))", cs_epoll_ctl(fd, Int32(CS_POLL_DEL), target, 0, 0))
    }

    /// Waits until something is ready or the timeout passes (-1: forever).
    /// A signal interrupting the wait returns no events.
    func wait(timeoutMilliseconds: Int32) throws(SystemError) -> [Event] {
        let capacity = 256
        var raw = [cs_poll_event](repeating: cs_poll_event(), count: capacity)
        let ready = cs_epoll_wait(fd, &raw, Int32(capacity), timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return [] }
            throw SystemError.last("epoll_wait")
        }
        return raw[..<Int(ready)].map { event in
            Event(
                token: event.token,
                readable: event.events & UInt32(CS_POLL_IN) != 0,
                writable: event.events & UInt32(CS_POLL_OUT) != 0,
                hangup: event.events & UInt32(CS_POLL_HUP) != 0,
                error: event.events & UInt32(CS_POLL_ERR) != 0
            )
        }
    }
}
