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
    
        @Test("dependsOn: web starts after db is ready and stops before db; autostart false waits for appctl start")
        func dependenciesOrderStartAndStop() async throws {
            var web = GroupSpec(name: "web", command: Commands.sleepForever, count: 1, readiness: GroupSpec.Readiness.none)
            web.dependsOn = ["db"]
            let db = GroupSpec(name: "db", command: Commands.sleepForever, count: 1, readiness: .afterSeconds(1))
            var admin = GroupSpec(name: "admin", command: Commands.sleepForever, count: 1, readiness: GroupSpec.Readiness.none)
            admin.autostart = false
            try await withDaemon(DaemonSpec(groups: [web, db, admin])) { daemon in
                // The log's line, not only the process: the log is written by
                // a thread of its own, and under ASan the line came after the
                // process was seen.
                try await daemon.waitUntil("web to start, and the log to say so") {
                    daemon.children().inGroup("web").count == 1
                        && daemon.logLines.master.contains { $0.message.hasPrefix("worker web#0[") && $0.message.hasSuffix("] started") }
                }
                let lines = daemon.logLines.master.map(\.message)
                // db is ready one second after it started (afterSeconds 1); web starts then.
                let dbStarted = lines.firstIndex { $0.hasPrefix("worker db#0[") && $0.hasSuffix("] started") }
                let dbReady = lines.firstIndex { $0 == "group web starts: db ready" }
                let webStarted = lines.firstIndex { $0.hasPrefix("worker web#0[") && $0.hasSuffix("] started") }
                #expect(dbStarted != nil && dbReady != nil && webStarted != nil && dbStarted! < dbReady! && dbReady! < webStarted!,
                        "\(daemon.log)")
                #expect(lines.contains("group web waits for db to be ready"), "\(daemon.log)")
                #expect(daemon.children().inGroup("admin").isEmpty)
                #expect(try await daemon.appctl("start", "admin").exited(0))
                try await daemon.waitUntil("admin to start") { daemon.children().inGroup("admin").count == 1 }

                daemon.signal(SIGTERM)
                let ended = try await daemon.waitForExit(timeout: 15)
                #expect(ended?.exited == true && ended?.code == 0, "\(String(describing: ended))")
                let stopped = daemon.logLines.master.map(\.message)
                let webExit = stopped.firstIndex { $0.hasPrefix("worker web#0[") && $0.hasSuffix("(stop)") }
                let dbExit = stopped.firstIndex { $0.hasPrefix("worker db#0[") && $0.hasSuffix("(stop)") }
                #expect(webExit != nil && dbExit != nil && webExit! < dbExit!, "web stops before db:\n\(daemon.log)")
            }
        }
}
}
