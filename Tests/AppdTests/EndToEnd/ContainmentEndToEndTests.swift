import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// Containment and resource limits (issue 11, parts 3 and 4), end to
    /// end: a worker whose grandchild escapes its process group with
    /// `setsid`, a pre-fork worker whose children hold the connections and
    /// the memory, and a worker that outgrows `maxMemory`. Each with cgroups
    /// where this host allows them, and in the fallback (`cgroups: false`).
    ///
    /// Serialized: the memory test allocates 100 MB and several daemons at
    /// once would crowd a small machine.
    @Suite("containment and limits end to end", .serialized, .timeLimit(.minutes(2)))
    struct ContainmentEndToEndTests {
        /// A worker that double-forks: a subshell starts `sleep 1001` in a
        /// session of its own and exits, so the grandchild is out of the
        /// worker's process group and re-parented to the master.
        static let escaper = ["/bin/sh", "-c", "(setsid sleep 1001 &); exec sleep 1000"]

        /// The worker and its escaped grandchild, once both run.
        private static func escapedFamily(_ daemon: DaemonUnderTest) async throws -> (worker: Int32, grandchild: Int32) {
            try await daemon.waitFor("the escaper and its setsid grandchild") { () -> (Int32, Int32)? in
                guard let worker = daemon.children().first(where: { ProcFS.commandLine(of: $0.pid) == "sleep 1000" }),
                      let grandchild = daemon.leftovers().first(where: { ProcFS.commandLine(of: $0) == "sleep 1001" }),
                      let session = CgroupProbe.session(of: grandchild), session != CgroupProbe.session(of: worker.pid)
                else { return nil }
                return (worker.pid, grandchild)
            }
        }

        /// `appctl stop escaper`, then the worker and its grandchild must go.
        private static func stopGroupAndWaitForTheFamily(_ daemon: DaemonUnderTest, _ family: (worker: Int32, grandchild: Int32)) async throws {
            let stop = try await daemon.appctl("stop", "escaper")
            #expect(stop.exited(0), "\(stop)")
            try await daemon.waitUntil(timeout: 10, "the worker and its setsid grandchild to be gone after the group stop") {
                !ProcFS.isAlive(family.worker) && !ProcFS.isAlive(family.grandchild)
            }
        }

        /// `appctl start escaper`, then SIGKILL of the master: the orphan
        /// guard must take the worker and its grandchild along.
        private static func startAgainAndKillTheMaster(_ daemon: DaemonUnderTest) async throws {
            #expect(try await daemon.appctl("start", "escaper").exited(0))
            let family = try await escapedFamily(daemon)
            daemon.signal(SIGKILL)
            try await daemon.waitForExit(timeout: 5)
            try await daemon.waitUntil(timeout: 5, "the orphan guard to kill the worker and its setsid grandchild") {
                !ProcFS.isAlive(family.worker) && !ProcFS.isAlive(family.grandchild)
            }
        }

        @Test("with cgroups: a setsid grandchild is stopped with its group, dies with a SIGKILLed master, and no cgroup is left",
              .enabled(if: CgroupProbe.hostHasWritableCgroup2))
        func cgroupContainsASetsidGrandchild() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "escaper", command: Self.escaper, readiness: GroupSpec.Readiness.none)])
            try await withDaemon(spec) { daemon in
                let root = try await daemon.waitFor("the log to name appd's cgroups") { CgroupProbe.root(inLog: daemon.log) }
                let first = try await Self.escapedFamily(daemon)
                let cgroup = try #require(CgroupProbe.cgroup(of: first.grandchild))
                #expect(root.contains("/appd.\(daemon.pid)."), "\(root)")
                #expect(cgroup.contains("/appd.\(daemon.pid).") && cgroup.contains("/group.escaper/w0."), "in its worker's cgroup: \(cgroup)")
                #expect(CgroupProbe.cgroup(of: first.worker) == cgroup)

                try await Self.stopGroupAndWaitForTheFamily(daemon, first)
                try await daemon.waitUntil(timeout: 5, "the emptied worker cgroup to be removed") {
                    CgroupProbe.workerCgroups(under: root, group: "escaper").isEmpty
                }

                try await Self.startAgainAndKillTheMaster(daemon)
                CgroupProbe.remove(root)
                #expect(!FileManager.default.fileExists(atPath: root), "the test leaves no cgroup behind")
            }
        }

        @Test("with cgroups: a clean stop removes every cgroup appd made", .enabled(if: CgroupProbe.hostHasWritableCgroup2))
        func cleanStopRemovesTheCgroups() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "escaper", command: Self.escaper, count: 2, readiness: GroupSpec.Readiness.none)])
            try await withDaemon(spec) { daemon in
                let root = try await daemon.waitFor("the log to name appd's cgroups") { CgroupProbe.root(inLog: daemon.log) }
                try await daemon.waitUntil("two escaped grandchildren") {
                    daemon.leftovers().filter { ProcFS.commandLine(of: $0) == "sleep 1001" }.count == 2
                }
                daemon.signal(SIGTERM)
                try await daemon.waitForExit(timeout: 10)
                #expect(daemon.leftovers().isEmpty, "\(daemon.leftovers().map(ProcFS.commandLine))")
                #expect(!FileManager.default.fileExists(atPath: root), "appd removed \(root)")
            }
        }

        @Test("without cgroups (cgroups: false): the log says so, and a group stop and a stop of the master leave nothing")
        func fallbackStopsLeaveNothing() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "escaper", command: Self.escaper, readiness: GroupSpec.Readiness.none)],
                                  cgroups: false)
            try await withDaemon(spec) { daemon in
                let first = try await Self.escapedFamily(daemon)
                #expect(daemon.log.contains("cgroups: disabled by the config (cgroups: false)"), "\(daemon.log)")
                #expect(CgroupProbe.root(inLog: daemon.log) == nil)

                try await Self.stopGroupAndWaitForTheFamily(daemon, first)
                try await Self.startAgainAndKillTheMaster(daemon)
            }
        }

        /// A pre-fork server in miniature: the parent forks two children,
        /// each holding a connection to the test's listener and 20 MB.
        static func preforker(port: UInt16) -> [String] {
            ["python3", "-c", """
             import os, socket, time
             for _ in range(2):
                 if os.fork() == 0:
                     held = socket.create_connection(("127.0.0.1", \(port)))
                     ballast = b"x" * (20 << 20)
                     time.sleep(1000)
             time.sleep(1000)
             """]
        }

        @Test("a pre-fork worker's children's connections are listed, and its memory covers the tree", arguments: [true, false])
        func preforkWorkerIsSeenWhole(cgroups: Bool) async throws {
            // Three interpreters and 40 MB: not beside a latency-bound test.
            try await LoadSensitive.exclusively { try await checkPreforkWorker(cgroups: cgroups) }
        }

        private func checkPreforkWorker(cgroups: Bool) async throws {
            let listener = try TCPListener(port: 0)
            defer { listener.close() }
            let spec = DaemonSpec(groups: [GroupSpec(name: "prefork", command: Self.preforker(port: listener.port),
                                                     readiness: GroupSpec.Readiness.none)], cgroups: cgroups)
            try await withDaemon(spec) { daemon in
                let connections = try await StatsPolling.value(timeout: 20, "the two children's connections in appctl connections",
                                                               context: { daemon.diagnostics }) { () -> [StatsConnection]? in
                    let listed = try await StatsCtl.connections(daemon).filter { $0.remote == "127.0.0.1:\(listener.port)" }
                    return listed.count == 2 ? listed : nil
                }
                let worker = try #require(daemon.children().first)
                #expect(connections.allSatisfy { $0.group == "prefork" && $0.id == 0 && $0.pid == worker.pid }, "\(connections)")
                #expect(connections.allSatisfy { $0.state == "ESTABLISHED" }, "\(connections)")

                // Each child holds 20 MB besides its interpreter; the parent alone has a few MB.
                let process = try await StatsPolling.value(timeout: 20, "the worker's memory to cover its children's 40 MB",
                                                           context: { daemon.diagnostics }) { () -> StatsProcess? in
                    let row = try await StatsCtl.status(daemon).inGroup("prefork").first
                    return (row?.rss ?? 0) > Double(40 << 20) ? row : nil
                }
                #expect(process.established == 2, "\(process)")
            }
        }

        @Test("maxMemory: a worker above it for a few samples is restarted gracefully, logged and tallied as memory-limit")
        func maxMemoryRestartsAGreedyWorker() async throws {
            // 100 MB, twice: not beside a latency-bound test.
            try await LoadSensitive.exclusively { try await checkMaxMemory() }
        }

        private func checkMaxMemory() async throws {
            let hog = ["python3", "-c", "import time\nballast = b'x' * (100 << 20)\ntime.sleep(1000)"]
            let spec = DaemonSpec(groups: [GroupSpec(name: "hog", command: hog, readiness: GroupSpec.Readiness.none, maxMemory: "50M")])
            try await withDaemon(spec) { daemon in
                let first = try await daemon.waitFor("the hog to start") { daemon.children().first }
                try await daemon.waitUntil(timeout: 30, "the hog to be stopped with its stop signal for its memory") {
                    daemon.log.contains("worker hog#0[\(first.pid)] uses") && daemon.log.contains("above its maxMemory of 50.0 MiB")
                        && daemon.log.contains("worker hog#0[\(first.pid)] killed by SIGTERM")
                }
                let replacement = try await daemon.waitFor("a replacement") { daemon.children().first { $0.pid != first.pid } }
                #expect(replacement.id == 0)
                let status = try await StatsCtl.status(daemon, group: "hog")
                let summary = StatsJSON.text(status.groupSummary("hog"))
                #expect(summary.contains("memory-limit"), "its own exit reason: \(summary)")
            }
        }
    }
}
