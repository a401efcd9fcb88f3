@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// Swift Testing has an `ExitStatus` of its own; in these tests the name means ours.
typealias ExitStatus = Shared.ExitStatus

/// Drives the pure `Supervisor` the way the shell does, with a fake clock and
/// fake pids: spawn effects get a pid (or a failure) at once, signals are
/// recorded, and processes exit only when a test says so.
struct SupervisorHarness {
    var supervisor: Supervisor
    var now = MonotonicInstant(seconds: 1000)
    private var nextPid: Int32 = 100
    /// Pids the fake OS considers alive.
    var alive: Set<Int32> = []
    var signals: [(pid: Int32, signal: UnixSignal)] = []
    var notices: [SupervisorNotice] = []
    var logs: [String] = []
    /// The records behind `logs`, with the worker each is about.
    var records: [LogRecord] = []
    var exitCode: Int32?
    /// Exits fed into the core for supervised processes, per group.
    var exitsFed: [String: Int] = [:]
    /// Slots whose next spawn fails (exec error).
    var failingSpawns: Set<WorkerRef> = []
    /// Set when an effect signals a pid that is not alive.
    var violations: [String] = []
    /// What each pid was started as.
    var spawnOrders: [Int32: SpawnOrder] = [:]
    /// Spawns wait in `queuedSpawns` until `runQueuedSpawns`, as the shell's
    /// do when they are more than a loop turn's budget.
    var deferSpawns = false
    var queuedSpawns: [SpawnOrder] = []
    /// Reload outcomes each group is still owed (`reloadBegan` adds, `reloadFinished` takes).
    var reloadsOwed: [String: Int] = [:]
    /// The counters metrics expose, per group, as last seen by the
    /// randomized test: they may never go down while the group lives.
    var countersSeen: [String: [Int]] = [:]

    init(_ groups: [GroupConfig], backoff: RestartBackoff = RestartBackoff()) {
        supervisor = Supervisor(config: Self.config(groups), backoff: backoff)
        perform(supervisor.start(now: now))
    }

    static func config(_ groups: [GroupConfig]) -> DaemonConfig {
        DaemonConfig(sourcePath: nil, controlSocket: "/s", pidFile: "/p", statusFile: "/st", daemonLog: .standardError, stopTimeout: 2, groups: groups)
    }

    static func group(
        _ name: String, count: Int, readiness: Readiness = .none, reloadable: Bool = true, stopTimeout: Double = 2,
        strategy: ReloadStrategy = .startFirst, maxSurge: Int = 1, watchdogSeconds: Double? = nil
    ) -> GroupConfig {
        GroupConfig(name: name, command: ["/bin/true"], count: count, reloadable: reloadable, readiness: readiness,
                    readyTimeout: 5, stopTimeout: stopTimeout, reloadStrategy: strategy, maxSurge: maxSurge,
                    watchdogSeconds: watchdogSeconds)
    }

    /// How the last reload of `group` ended, if it did.
    func reloadResult(_ group: String) -> ReloadResult? {
        for notice in notices.reversed() {
            if case .reloadFinished(group, let result) = notice { return result }
        }
        return nil
    }

    func replacedNotices(_ group: String) -> [(id: Int, oldPid: Int32?, newPid: Int32)] {
        notices.compactMap {
            if case .replaced(let ref, let old, let new) = $0, ref.group == group { return (ref.id, old, new) }
            return nil
        }
    }

    /// The successor starting beside slot `id`'s process, if any.
    func successor(_ group: String, _ id: Int) -> Int32? {
        supervisor.group(named: group)?.slots[id].liveSuccessor?.pid
    }

    mutating func perform(_ effects: [SupervisorEffect]) {
        var queue = effects[...]
        while let effect = queue.popFirst() {
            switch effect {
            case .spawn(let order):
                if deferSpawns {
                    queuedSpawns.append(order)
                } else {
                    queue.append(contentsOf: supervisor.handle(answer(order), now: now))
                }
            case .signal(let pid, let signal), .signalProcessGroup(let pid, let signal):
                if !alive.contains(pid) { violations.append("signalled dead pid \(pid) with \(signal)") }
                signals.append((pid, signal))
            case .log(let record):
                logs.append(record.text)
                records.append(record)
            case .notice(let notice):
                notices.append(notice)
                // Each group the core says it reports on is owed exactly one outcome.
                if case .reloadBegan(let groups) = notice {
                    for group in groups { reloadsOwed[group, default: 0] += 1 }
                }
                if case .reloadFinished(let group, _) = notice {
                    if reloadsOwed[group, default: 0] == 0 { violations.append("reload of \(group) answered twice or unasked") }
                    reloadsOwed[group, default: 0] -= 1
                }
            case .exit(let code):
                if exitCode != nil { violations.append("exit emitted twice") }
                exitCode = code
            }
        }
    }

    /// What the fake OS makes of a spawn: a new pid, or an exec failure.
    private mutating func answer(_ order: SpawnOrder) -> SupervisorEvent {
        if failingSpawns.contains(order.worker) {
            return .spawnFailed(order.worker, order.role, reason: "execve: No such file or directory")
        }
        nextPid += 1
        alive.insert(nextPid)
        spawnOrders[nextPid] = order
        return .spawned(order.worker, order.role, pid: nextPid)
    }

    /// Carries out up to `count` queued spawns the way the shell does a
    /// slice per loop turn: each as it stands now, or cancelled.
    mutating func runQueuedSpawns(_ count: Int = .max) {
        var done = 0
        while done < count, !queuedSpawns.isEmpty {
            let order = queuedSpawns.removeFirst()
            let event = supervisor.orderToCarryOut(order).map { answer($0) } ?? .spawnCancelled(order.worker, order.role)
            perform(supervisor.handle(event, now: now))
            done += 1
        }
    }

    mutating func send(_ event: SupervisorEvent) { perform(supervisor.handle(event, now: now)) }

    @discardableResult
    mutating func request(_ request: SupervisorRequest) -> RequestRejection? {
        do {
            perform(try supervisor.apply(request, now: now))
            return nil
        } catch {
            return error
        }
    }

    /// The process exits; the fake OS reaps it.
    mutating func exit(_ pid: Int32, _ status: ExitStatus = .exited(code: 0)) {
        guard alive.remove(pid) != nil else { return }
        if let owner = supervisor.owner(of: pid) { exitsFed[owner.group, default: 0] += 1 }
        send(.childExited(pid: pid, status: status))
    }

    /// Advances the fake clock, firing deadlines the way the shell's timer does.
    mutating func advance(_ seconds: Double) {
        let target = now.adding(seconds: seconds)
        while let deadline = supervisor.nextDeadline, deadline <= target {
            now = max(now, deadline)
            send(.deadlinesDue)
        }
        now = target
    }

    /// Every process that got `signal` (its default action) exits with it.
    mutating func obeySignals() {
        for (pid, signal) in signals where alive.contains(pid) && signal != .user1 {
            exit(pid, .killed(signal: signal))
        }
    }

    func pid(_ group: String, _ id: Int) -> Int32? {
        supervisor.group(named: group)?.slots[id].process?.pid
    }

    func state(_ group: String, _ id: Int) -> WorkerSlot.State? {
        supervisor.group(named: group)?.slots[id].state
    }

    func signalsSent(to pid: Int32) -> [UnixSignal] { signals.filter { $0.pid == pid }.map(\.signal) }
}
