/// The master's one thread of control: an epoll set whose every fd is
/// registered with the handler that owns it (the signal channel, the timer,
/// the control server's listener and clients, the workers' pipes and notify
/// channels), so no central switch has to know them all.
///
/// Each registration gets a token that is never reused: an event fetched for
/// an fd that was unregistered (and perhaps reopened under the same number)
/// earlier in the same turn finds no handler and is dropped, rather than
/// reaching the new owner of the number.
///
/// Work that would disturb what a turn is walking (closing a client whose
/// reply failed while replies to many clients are being sent) is deferred to
/// the end of the turn with `atEndOfTurn`.
final class EventLoop {
    typealias Handler = (EventPoll.Event) -> Void

    /// What `register` returns: the key to modify or remove the registration.
    struct Registration: Hashable {
        fileprivate let token: UInt64
    }

    private let poll: EventPoll
    private var handlers: [UInt64: Handler] = [:]
    private var nextToken: UInt64 = 1
    private var endOfTurn: [() -> Void] = []

    init(poll: EventPoll) { self.poll = poll }

    var registrationCount: Int { handlers.count }

    func register(fd: Int32, interest: EventPoll.Interest, handler: @escaping Handler) throws(SystemError) -> Registration {
        let token = nextToken
        nextToken += 1
        try poll.add(fd: fd, events: interest, token: token)
        handlers[token] = handler
        return Registration(token: token)
    }

    func modify(_ registration: Registration, fd: Int32, interest: EventPoll.Interest) {
        try? poll.modify(fd: fd, events: interest, token: registration.token)
    }

    /// Stops the events of `fd` at once, including any already fetched this
    /// turn. The caller closes the fd (after this, never before).
    func unregister(_ registration: Registration, fd: Int32) {
        guard handlers.removeValue(forKey: registration.token) != nil else { return }
        try? poll.remove(fd: fd)
    }

    /// Runs `work` once the current turn's events have all been handled.
    func atEndOfTurn(_ work: @escaping () -> Void) { endOfTurn.append(work) }

    /// One turn: waits for events (not at all when `block` is false, for
    /// work left over from the last turn), hands each to its handler while
    /// `proceed` holds, then runs the deferred work.
    func turn(block: Bool, proceed: () -> Bool) throws(SystemError) {
        for event in try poll.wait(timeoutMilliseconds: block ? -1 : 0) {
            guard proceed() else { break }
            handlers[event.token]?(event)
        }
        runDeferred()
    }

    /// Deferred work may defer more (a close that ends a stream that frees
    /// a client); it runs in the same pass.
    func runDeferred() {
        while !endOfTurn.isEmpty {
            let work = endOfTurn
            endOfTurn.removeAll()
            for item in work { item() }
        }
    }
}
