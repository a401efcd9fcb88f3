@testable import DaemonShell
@testable import SupervisorCore
import Shared
import Testing

/// `dependsOn` and `autostart`: start after the dependencies are ready,
/// stop before them; a group that waits for `appctl start`.
@Suite struct SupervisorDependenciesTests {
    static func group(_ name: String, count: Int = 1, dependsOn: [String] = [], autostart: Bool = true,
                      restart: RestartPolicy = .always) -> GroupConfig {
        var config = SupervisorHarness.group(name, count: count, readiness: .notify)
        config.dependsOn = dependsOn
        config.autostart = autostart
        config.restart = restart
        return config
    }

    @Test func aGroupStartsOnlyOnceItsDependenciesAreReadyOrCompleted() {
        var h = SupervisorHarness([
            Self.group("web", count: 2, dependsOn: ["db", "migrate"]),
            Self.group("db"),
            Self.group("migrate", dependsOn: ["db"], restart: .never),
        ])
        #expect(h.pid("db", 0) != nil && h.pid("migrate", 0) == nil && h.pid("web", 0) == nil)
        #expect(h.supervisor.group(named: "web")?.waitingFor == ["db", "migrate"])
        #expect(h.supervisor.health.problems.contains("web: 0/2 ready (waiting for db, migrate)"), "\(h.supervisor.health)")

        h.send(.ready(pid: h.pid("db", 0)!))
        let migrate = h.pid("migrate", 0)
        #expect(migrate != nil && h.pid("web", 0) == nil, "migrate starts once db is ready; web still waits for migrate")
        h.send(.ready(pid: migrate!))
        h.exit(migrate!, .exited(code: 0))
        #expect(h.state("migrate", 0) == .finished(.completed))
        #expect(h.pid("web", 0) != nil && h.pid("web", 1) != nil, "web starts once migrate completed")
        #expect(h.logs.contains { $0.contains("group web starts: db, migrate ready") }, "\(h.logs)")
    }

    @Test func autostartFalseWaitsForStartWhichAlsoStartsItsStoppedDependencies() {
        var h = SupervisorHarness([Self.group("web", dependsOn: ["db"], autostart: false), Self.group("db", autostart: false)])
        #expect(h.pid("web", 0) == nil && h.pid("db", 0) == nil)
        #expect(h.supervisor.group(named: "web")?.wantsRunning == false)
        #expect(h.request(.startGroup("web")) == nil)
        #expect(h.pid("db", 0) != nil && h.pid("web", 0) == nil, "db started for web; web waits for it")
        h.send(.ready(pid: h.pid("db", 0)!))
        #expect(h.pid("web", 0) != nil)
    }

    @Test func theDaemonStopsDependentsBeforeWhatTheyDependOn() {
        var h = SupervisorHarness([Self.group("web", dependsOn: ["db"]), Self.group("db")])
        h.send(.ready(pid: h.pid("db", 0)!))
        let (web, db) = (h.pid("web", 0)!, h.pid("db", 0)!)
        h.request(.stopDaemon)
        #expect(h.signalsSent(to: web) == [.terminate] && h.signalsSent(to: db).isEmpty, "db waits for web to stop")
        h.exit(web, .killed(signal: .terminate))
        #expect(h.signalsSent(to: db) == [.terminate], "web gone: db stops")
        #expect(h.exitCode == nil)
        h.exit(db, .killed(signal: .terminate))
        #expect(h.exitCode == 0)
    }
}
