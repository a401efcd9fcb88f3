import Glibc
import SupervisorCore

/// The daemon's line to its service manager: `ServiceManagerNotices` says
/// what to tell, this sends it to $NOTIFY_SOCKET, read once at start (the
/// workers get notify sockets of their own). Without NOTIFY_SOCKET (not
/// under systemd) it does nothing and asks for no deadline.
final class ServiceManagerLink {
    private var notices: ServiceManagerNotices
    private let socketPath: String?
    private let log: DaemonLog

    init(startedAt: MonotonicInstant, readyGrace: Double, log: DaemonLog,
         socketPath: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) {
        self.notices = ServiceManagerNotices(startedAt: startedAt, readyGrace: readyGrace, mainPid: getpid())
        self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
        self.log = log
    }

    var nextDeadline: MonotonicInstant? { socketPath == nil ? nil : notices.nextDeadline }

    /// Tells the service manager what changed since the last turn.
    func update(_ supervisor: Supervisor, now: MonotonicInstant) {
        guard let socketPath else { return }
        guard let message = notices.update(health: supervisor.health, isReloading: supervisor.isReloading,
                                           isStopping: supervisor.isStopping, now: now) else { return }
        do {
            try SystemdNotifier.notify(message, socketPath: socketPath)
        } catch {
            log.warning("cannot tell the service manager \(message.split(separator: "\n").first ?? ""): \(error)")
        }
    }
}
