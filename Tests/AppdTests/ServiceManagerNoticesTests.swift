import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// What systemd is told and when, with a fake clock: READY=1 waits for
/// every group (or the grace), a reload is bracketed, STATUS= changes are
/// spaced out, and an idle daemon asks for no wake-up.
@Suite struct ServiceManagerNoticesTests {
    static let start = MonotonicInstant(seconds: 100)
    static let healthy = HealthReport(problems: [], summary: "web 2/2, 0 backing off")
    static let starting = HealthReport(problems: ["web: 1/2 ready (1 starting)"], summary: "web 1/2, 0 backing off")

    @Test func readyWaitsForEveryGroupThenReloadIsBracketedAndStopIsSaid() {
        var notices = ServiceManagerNotices(startedAt: Self.start, readyGrace: 30, mainPid: 42)
        #expect(notices.update(health: Self.starting, isReloading: false, isStopping: false, now: Self.start)
                == "STATUS=starting: web 1/2, 0 backing off")
        #expect(notices.nextDeadline == Self.start.adding(seconds: 30), "only the grace: no STATUS= is held back")
        #expect(notices.update(health: Self.healthy, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 2))
                == "READY=1\nMAINPID=42\nSTATUS=web 2/2, 0 backing off")
        #expect(notices.nextDeadline == nil, "an idle, ready daemon is not woken for this")
        #expect(notices.update(health: Self.healthy, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 3)) == nil)

        let reloading = notices.update(health: Self.healthy, isReloading: true, isStopping: false, now: Self.start.adding(seconds: 10))
        #expect(reloading == "RELOADING=1\nMONOTONIC_USEC=110000000\nSTATUS=reloading: web 2/2, 0 backing off")
        #expect(notices.update(health: Self.healthy, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 12))
                == "READY=1\nSTATUS=web 2/2, 0 backing off")
        #expect(notices.update(health: Self.healthy, isReloading: false, isStopping: true, now: Self.start.adding(seconds: 20))
                == "STOPPING=1\nSTATUS=stopping: web 2/2, 0 backing off")
        #expect(notices.update(health: Self.starting, isReloading: false, isStopping: true, now: Self.start.adding(seconds: 21)) == nil)
    }

    @Test func afterTheGraceReadyGoesAnywaySayingWhatIsMissing() {
        var notices = ServiceManagerNotices(startedAt: Self.start, readyGrace: 5, mainPid: 42)
        _ = notices.update(health: Self.starting, isReloading: false, isStopping: false, now: Self.start)
        #expect(notices.update(health: Self.starting, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 4)) == nil)
        #expect(notices.update(health: Self.starting, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 5))
                == "READY=1\nMAINPID=42\nSTATUS=started, but not every group is ready: web: 1/2 ready (1 starting)")
    }

    @Test func statusChangesAreSpacedOutAndAHeldBackOneIsSentWhenItsIntervalEnds() {
        var notices = ServiceManagerNotices(startedAt: Self.start, readyGrace: 30, mainPid: 42)
        _ = notices.update(health: Self.healthy, isReloading: false, isStopping: false, now: Self.start)
        let degraded = HealthReport(problems: ["web: 1/2 ready (1 backing off)"], summary: "web 1/2, 1 backing off")
        #expect(notices.update(health: degraded, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 0.2)) == nil)
        #expect(notices.nextDeadline == Self.start.adding(seconds: 1))
        #expect(notices.update(health: degraded, isReloading: false, isStopping: false, now: Self.start.adding(seconds: 1))
                == "STATUS=web 1/2, 1 backing off")
        #expect(notices.nextDeadline == nil)
    }
}

/// The one health rule: `appctl health`, systemd's READY=1 and STATUS=.
@Suite struct SupervisorHealthTests {
    @Test func healthyOnlyWithEveryGroupsCountReady() {
        var h = SupervisorHarness([SupervisorHarness.group("web", count: 2, readiness: .notify), SupervisorHarness.group("idle", count: 0)])
        #expect(h.supervisor.health.problems == ["web: 0/2 ready (2 starting)"])
        h.send(.ready(pid: h.pid("web", 0)!))
        h.send(.ready(pid: h.pid("web", 1)!))
        #expect(h.supervisor.health.isHealthy)
        #expect(h.supervisor.health.summary == "web 2/2, idle 0/0, 0 backing off")

        h.exit(h.pid("web", 1)!, .exited(code: 3))
        let failing = h.supervisor.health
        #expect(failing.summary == "web 1/2, idle 0/0, 1 backing off")
        #expect(failing.problems.count == 1 && failing.problems[0].hasPrefix("web: 1/2 ready (1 backing off; "), "\(failing.problems)")

        h.request(.stopGroup("web"))
        #expect(h.supervisor.health.problems == ["web is stopped (appctl start web)"])
    }
}
