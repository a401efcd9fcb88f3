import Shared

/// The control socket. (Served in full by the control-socket work; until
/// then a client is accepted and closed.)
extension Daemon {
    func acceptControlClients() {
        while let client = try? control.accept() { FileIO.close(client) }
    }

    func serviceControlClient(_ client: Int32, event: EventPoll.Event) {}

    func closeControlClients() {}

    func deliver(_ notice: SupervisorNotice) {}
}
