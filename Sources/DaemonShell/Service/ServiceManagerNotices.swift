import SupervisorCore

/// What the service manager (systemd under `Type=notify`) is told, and
/// when: a pure value, fed the core's health and phase each loop turn, that
/// returns the notification to send, if any.
///
/// - `READY=1` once every group has its count of ready processes, not when
///   the first processes were spawned: a unit ordered `After=appd` then
///   finds the workers serving. If that takes longer than `readyGrace`
///   (the groups' longest readyTimeout), `READY=1` goes anyway with a
///   STATUS= saying what is missing, so a slow or failing group cannot
///   hold the boot up forever.
/// - `RELOADING=1` with `MONOTONIC_USEC` while a rolling reload runs, then
///   `READY=1` again (systemd's reload protocol).
/// - `STOPPING=1` when the daemon stops.
/// - `STATUS=` with a one-line summary ("web 4/4, queue 1/1, 0 backing
///   off") whenever it changes, at most once per `statusInterval`, so a
///   restart storm is not a storm of datagrams.
struct ServiceManagerNotices {
    enum Phase: Equatable {
        case starting, ready, reloading, stopping
    }

    static let statusInterval = 1.0

    private(set) var phase = Phase.starting
    /// `READY=1` is sent by then even if not every group is ready.
    let readyBy: MonotonicInstant
    private var sentStatus: String?
    private var statusSentAt: MonotonicInstant?
    /// A STATUS= change held back by `statusInterval`, to send when it ends.
    private var statusHeldBack = false
    /// The master's pid, sent with the first `READY=1` (`MAINPID=`): after
    /// `--daemonize` the process systemd started is not the daemon.
    let mainPid: Int32

    init(startedAt: MonotonicInstant, readyGrace: Double, mainPid: Int32) {
        readyBy = startedAt.adding(seconds: readyGrace)
        self.mainPid = mainPid
    }

    /// The notification the state of this turn calls for, or nil.
    mutating func update(health: HealthReport, isReloading: Bool, isStopping: Bool, now: MonotonicInstant) -> String? {
        let status = health.summary
        switch phase {
        case .stopping:
            return nil
        case _ where isStopping:
            phase = .stopping
            return sent("STOPPING=1", status: "stopping: \(status)", now: now)
        case .starting:
            if health.isHealthy {
                phase = .ready
                return sent("READY=1\nMAINPID=\(mainPid)", status: status, now: now)
            }
            if now >= readyBy {
                phase = .ready
                return sent("READY=1\nMAINPID=\(mainPid)",
                            status: "started, but not every group is ready: " + health.problems.joined(separator: "; "), now: now)
            }
            return statusUpdate("starting: \(status)", now: now)
        case .ready:
            if isReloading {
                phase = .reloading
                return sent("RELOADING=1\nMONOTONIC_USEC=\(now.nanoseconds / 1000)", status: "reloading: \(status)", now: now)
            }
            return statusUpdate(status, now: now)
        case .reloading:
            if !isReloading {
                phase = .ready
                return sent("READY=1", status: status, now: now)
            }
            return statusUpdate("reloading: \(status)", now: now)
        }
    }

    /// When `update` should run again though nothing else happens: the
    /// ready grace's end, or the end of the interval a STATUS= change was
    /// held back by. Nil otherwise: an idle master is not woken for this.
    var nextDeadline: MonotonicInstant? {
        let heldStatus = statusHeldBack ? statusSentAt.map { $0.adding(seconds: Self.statusInterval) } : nil
        switch phase {
        case .starting: return [readyBy, heldStatus].compactMap { $0 }.min()
        case .ready, .reloading: return heldStatus
        case .stopping: return nil
        }
    }

    private mutating func sent(_ state: String, status: String, now: MonotonicInstant) -> String {
        sentStatus = status
        statusSentAt = now
        statusHeldBack = false
        return state + "\nSTATUS=" + status
    }

    private mutating func statusUpdate(_ status: String, now: MonotonicInstant) -> String? {
        guard status != sentStatus else {
            statusHeldBack = false
            return nil
        }
        if let last = statusSentAt, now < last.adding(seconds: Self.statusInterval) {
            statusHeldBack = true
            return nil
        }
        sentStatus = status
        statusSentAt = now
        statusHeldBack = false
        return "STATUS=" + status
    }
}
