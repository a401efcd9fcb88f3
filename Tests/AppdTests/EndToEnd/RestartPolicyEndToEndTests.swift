import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// `restart`, `maxRestarts`: which exits a real daemon follows with a new
    /// process, and how a worker it gave up on is shown and retried.
    @Suite("restart policies end to end")
    struct RestartPolicyEndToEndTests {
        static func summary(_ daemon: DaemonUnderTest, _ group: String) async throws -> [String: Any]? {
            try await FirstContactEndToEndTests.summary(FirstContactEndToEndTests.status(daemon), group)
        }

        @Test("restart never: a job that exits 0 is not restarted and shows completed; health counts it done")
        func aOneShotJobCompletes() async throws {
            var job = GroupSpec(name: "migrate", command: ["/bin/sh", "-c", "echo migrated; exit 0"], count: 1,
                                readiness: GroupSpec.Readiness.none)
            job.restart = "never"
            try await withDaemon(DaemonSpec(groups: [job])) { daemon in
                let group = try await StatsPolling.value(timeout: 10, "migrate to complete", context: { daemon.diagnostics }) { () -> [String: Any]? in
                    let group = try await Self.summary(daemon, "migrate")
                    return group?["state"] as? String == "completed" ? group : nil
                }
                #expect(StatsJSON.int(group["completed"]) == 1, "\(group)")
                let process = try #require(try await StatsCtl.status(daemon).inGroup("migrate").first)
                #expect(process.state == "completed" && process.restarts == 0 && process.pid == nil, "\(process)")
                #expect(daemon.log.contains("worker migrate#0 completed; by its restart policy (never) no process follows"), "\(daemon.log)")
                let table = try await daemon.appctl("status")
                #expect(table.stdout.contains("completed"), "\(table.stdout)")
                #expect(try await daemon.appctl("health").exited(0))
            }
        }

        @Test("restart on-failure: exit 3 is restarted, the exit 0 that follows is not")
        func onFailureRestartsOnlyFailures() async throws {
            try await withDaemon(DaemonSpec(groups: []), start: false) { daemon in
                let marker = daemon.directory.file("ran-once")
                var job = GroupSpec(name: "job", command: ["/bin/sh", "-c", "if [ -e \(marker) ]; then exit 0; fi; touch \(marker); exit 3"],
                                    count: 1, readiness: GroupSpec.Readiness.none)
                job.restart = "on-failure"
                try daemon.writeConfig(DaemonSpec(groups: [job]))
                try await daemon.start()
                let process = try await StatsPolling.value(timeout: 15, "job to complete", context: { daemon.diagnostics }) { () -> StatsProcess? in
                    let process = try await StatsCtl.status(daemon).inGroup("job").first
                    return process?.state == "completed" ? process : nil
                }
                #expect(process.restarts == 1, "restarted once, after the exit 3: \(process)")
                #expect(daemon.log.contains("worker job#0[") && daemon.log.contains("exited 3"), "\(daemon.log)")
            }
        }

        @Test("a missing executable ends failed after maxRestarts, degraded with the reason; appctl start retries it once it exists")
        func aMissingExecutableFailsThenStartRetries() async throws {
            try await withDaemon(DaemonSpec(groups: []), start: false) { daemon in
                let program = daemon.directory.file("app.sh")
                var app = GroupSpec(name: "app", command: [program], count: 1, readiness: GroupSpec.Readiness.none)
                app.maxRestarts = 2
                try daemon.writeConfig(DaemonSpec(groups: [app]))
                try await daemon.start()
                let group = try await StatsPolling.value(timeout: 15, "app to be given up on", context: { daemon.diagnostics }) { () -> [String: Any]? in
                    let group = try await Self.summary(daemon, "app")
                    return StatsJSON.int(group?["failed"]) == 1 ? group : nil
                }
                #expect(group["state"] as? String == "degraded", "\(group)")
                let reason = group["reason"] as? String ?? ""
                #expect(reason.contains("gave up after 2 restarts") && reason.contains("not found or not executable"), "\(reason)")
                let table = try await daemon.appctl("status")
                #expect(table.stdout.contains("0/1 (1 failed)") && table.stdout.contains("app is degraded"), "\(table.stdout)")
                #expect(try await daemon.appctl("health").exited(1))

                try "#!/bin/sh\nexec sleep 1000\n".write(toFile: program, atomically: true, encoding: .utf8)
                chmod(program, 0o755)
                let started = try await daemon.appctl("start", "app")
                #expect(started.exited(0), "\(started)")
                _ = try await StatsPolling.value(timeout: 10, "app to run", context: { daemon.diagnostics }) { () -> StatsProcess? in
                    let process = try await StatsCtl.status(daemon).inGroup("app").first
                    return process?.state == "running" ? process : nil
                }
            }
        }
    }
}
