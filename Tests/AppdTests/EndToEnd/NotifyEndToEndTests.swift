import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// Each worker's own notify socket, end to end: many workers telling
    /// READY=1 at once, a worker's helpers speaking for it, and nothing left
    /// behind by workers that are gone.
    ///
    /// Serialized: fifty interpreters starting at once load a two-core
    /// machine enough; two such tests side by side would only be slower.
    @Suite("notify sockets end to end", .serialized)
    struct NotifyEndToEndTests {
        /// A worker that waits at a barrier (the `go` file), then sends
        /// READY=1 once, without blocking and never again, and writes down
        /// whether the send went through (a file named by its pid in the
        /// results directory). The test holds the barrier until every worker
        /// waits at it, so the sends come all at once.
        static let burstWorker = """
            import os, socket, sys, time
            go, results = sys.argv[1], sys.argv[2]
            mine = os.path.join(results, str(os.getpid()))
            open(mine + ".waiting", "w").close()
            while not os.path.exists(go):
                time.sleep(0.01)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                s.sendto(b"READY=1", socket.MSG_DONTWAIT, os.environ["NOTIFY_SOCKET"])
                result = "sent"
            except OSError as error:
                result = "not sent: " + str(error)
            with open(mine + ".tmp", "w") as f:
                f.write(result)
            os.rename(mine + ".tmp", mine)
            time.sleep(1000)
            """

        static let burst = 50

        @Test("50 workers started with the daemon, each sending READY=1 once without blocking while the master cannot read: all 50 become ready")
        func fiftyWorkersAtStartUpAllBecomeReady() async throws {
            try await LoadSensitive.exclusively {
                let python = try #require(StatsPython.path, "python3 is needed for workers that speak sd_notify by hand")
                let setup = try BurstSetup()
                let spec = DaemonSpec(groups: [setup.group(python: python, count: Self.burst)])
                try await withDaemon(spec) { daemon in
                    try await Self.releaseBurst(daemon, setup)
                }
            }
        }

        @Test("appctl scale 0 → 50: all 50 become ready with one non-blocking READY=1 each; 50 → 0 gives back every fd and socket file")
        func scalingUpAndDownReadiesAllAndLeavesNothingBehind() async throws {
            try await LoadSensitive.exclusively {
                let python = try #require(StatsPython.path, "python3 is needed for workers that speak sd_notify by hand")
                let setup = try BurstSetup()
                let spec = DaemonSpec(groups: [
                    // Keeps one worker of the daemon's own, so that what its first
                    // spawn opens once for good (/dev/null) is in the baseline.
                    GroupSpec(name: "steady", command: Commands.sleepForever, count: 1),
                    setup.group(python: python, count: 0),
                ])
                try await withDaemon(spec) { daemon in
                    // The "started" line is written once the spawn is complete;
                    // no client has connected yet: what is open now is the baseline.
                    try await daemon.waitUntil("the steady worker to be started") {
                        daemon.log.contains("worker steady#0[") && daemon.log.contains("] started")
                    }
                    let baseline = Self.descriptors(of: daemon.pid)
                    let notifyDirectory = daemon.controlSocket + ".notify.d"
                    #expect(try Self.entries(of: notifyDirectory).count == 1, "the steady worker's socket")

                    let up = try await daemon.appctl("scale", "burst", "\(Self.burst)")
                    #expect(up.exited(0), "\(up)")
                    try await Self.releaseBurst(daemon, setup)
                    #expect(Self.descriptors(of: daemon.pid).count >= baseline.count + 3 * Self.burst,
                            "a notify socket and two output pipes per worker")
                    #expect(try Self.entries(of: notifyDirectory).count == 1 + Self.burst)

                    let down = try await daemon.appctl("scale", "burst", "0")
                    #expect(down.exited(0), "\(down)")
                    try await daemon.waitUntil(timeout: 20, "every burst worker to be gone") {
                        daemon.children().inGroup("burst").isEmpty
                    }
                    try await daemon.waitUntil(timeout: 10, "the master's descriptors to return to their baseline of \(baseline.count)") {
                        Self.descriptors(of: daemon.pid).count == baseline.count
                    }
                    #expect(Self.descriptors(of: daemon.pid) == baseline, "the same descriptors as before the burst")
                    #expect(try Self.entries(of: notifyDirectory).count == 1, "no socket file left for a worker that is gone")
                    #expect(!daemon.logLines.master.contains { $0.level == "error" }, "\(daemon.log)")
                }
            }
        }

        @Test("READY=1 from a worker's helper (a shell's child, systemd-notify, a forked child) readies that worker; from a process that left its group it does not")
        func descendantsSpeakForTheirWorker() async throws {
            let python = try #require(StatsPython.path, "python3 is needed for workers that speak sd_notify by hand")
            func send(_ payload: String) -> String {
                "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'\(payload)', socket.MSG_DONTWAIT, os.environ['NOTIFY_SOCKET'])"
            }
            // The shell is the worker; python, its child, sends and exits.
            let childScript = "import os, socket; " + send("READY=1\\nSTATUS=from the shell child")
            let shell = ["/bin/sh", "-c", "\(python) -c \"\(childScript)\"; exec /bin/sleep 1000"]
            // A forked child sends and stays, in the worker's process group.
            let helper = [python, "-c", """
                import os, socket, time
                if os.fork() == 0:
                    \(send("READY=1\\nSTATUS=from a helper"))
                time.sleep(1000)
                """]
            // A forked child that leaves the process group first (setsid).
            let escaped = [python, "-c", """
                import os, socket, time
                if os.fork() == 0:
                    os.setsid()
                    \(send("READY=1\\nSTATUS=escaped"))
                time.sleep(1000)
                """]
            var groups = [
                GroupSpec(name: "shell", command: shell, count: 1, readiness: .notify, readyTimeout: 60),
                GroupSpec(name: "helper", command: helper, count: 1, readiness: .notify, readyTimeout: 60),
                GroupSpec(name: "escaped", command: escaped, count: 1, readiness: .notify, readyTimeout: 60),
            ]
            let systemdNotify = "/usr/bin/systemd-notify"
            let haveSystemdNotify = FileManager.default.isExecutableFile(atPath: systemdNotify)
            if haveSystemdNotify {
                // It exits right after sending: by the time the master reads,
                // its process group may no longer be known.
                groups.append(GroupSpec(name: "notifier", command: ["/bin/sh", "-c", "\(systemdNotify) --ready --status='from systemd-notify'; exec /bin/sleep 1000"],
                                        count: 1, readiness: .notify, readyTimeout: 60))
            }
            try await withDaemon(DaemonSpec(groups: groups)) { daemon in
                let expected = ["shell": "from the shell child", "helper": "from a helper"]
                    .merging(haveSystemdNotify ? ["notifier": "from systemd-notify"] : [:]) { $1 }
                let status = try await StatsPolling.value(timeout: 20, "\(expected.keys.sorted()) ready", context: { daemon.diagnostics }) { () -> StatsSnapshot? in
                    let status = try await StatsCtl.status(daemon)
                    return expected.allSatisfy { group, text in
                        let process = status.inGroup(group).first
                        return process?.state == "running" && process?.statusText == text
                    } ? status : nil
                }
                for group in expected.keys {
                    let process = try #require(status.inGroup(group).first)
                    #expect(process.restarts == 0, "\(process)")
                    #expect(daemon.log.contains("worker \(group)#0[\(process.pid ?? 0)] is ready"), "\(daemon.log)")
                }

                let escapedPid = try #require(status.inGroup("escaped").first?.pid)
                try await daemon.waitUntil("the escaped child's datagram to be refused") {
                    daemon.logLines.master.contains {
                        $0.level == "warning" && $0.message.contains("notify socket of worker escaped#0[\(escapedPid)]")
                            && $0.message.contains("neither that worker nor in its process group")
                    }
                }
                let escapedNow = try #require(try await StatsCtl.status(daemon).inGroup("escaped").first)
                #expect(escapedNow.pid == escapedPid && escapedNow.state == "starting" && escapedNow.statusText == nil, "\(escapedNow)")
            }
        }

        @Test("a datagram read after its worker exited is ignored, and logged at debug level with --verbose")
        func lateDatagramsAreIgnoredAndLoggedWithVerbose() async throws {
            let python = try #require(StatsPython.path, "python3 is needed for workers that speak sd_notify by hand")
            let files = try TemporaryDirectory(prefix: "appd-late-")
            // The worker forks a helper (same process group), then each waits
            // for its cue: the worker exits on `exit-<pid>`, the helper sends
            // on `send-<worker pid>` and says so in `sent-<worker pid>`.
            let script = """
                import os, socket, sys, time
                cues, worker = sys.argv[1], os.getpid()
                def await_cue(name):
                    while not os.path.exists(os.path.join(cues, name)):
                        time.sleep(0.01)
                if os.fork() == 0:
                    await_cue("send-%d" % worker)
                    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"STATUS=too late", socket.MSG_DONTWAIT, os.environ["NOTIFY_SOCKET"])
                    open(os.path.join(cues, "sent-%d" % worker), "w").close()
                    time.sleep(1000)
                await_cue("exit-%d" % worker)
                os._exit(0)
                """
            let spec = DaemonSpec(groups: [GroupSpec(name: "late", command: [python, "-c", script, files.path], count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                try await daemon.start(arguments: ["--verbose"])
                let (worker, helper) = try await daemon.waitFor("the worker and its helper") { () -> (Int32, Int32)? in
                    guard let worker = daemon.children().inGroup("late").first?.pid,
                          let helper = ProcFS.childPids(of: worker).first else { return nil }
                    return (worker, helper)
                }
                // The master frozen, the worker exits (a zombie nobody reaps
                // yet) and then its helper sends: thawed, the master sees the
                // exit first (epoll reports in the order things became ready),
                // so the datagram is read in the last drain of the channel.
                daemon.signal(SIGSTOP)
                do {
                    try await daemon.waitUntil("the master to be stopped") { ProcFS.state(of: daemon.pid) == "T" }
                    _ = FileManager.default.createFile(atPath: files.file("exit-\(worker)"), contents: Data())
                    try await daemon.waitUntil("the worker to have exited") { ProcFS.state(of: worker) == "Z" }
                    _ = FileManager.default.createFile(atPath: files.file("send-\(worker)"), contents: Data())
                    try await daemon.waitUntil("the helper to have sent") { FileManager.default.fileExists(atPath: files.file("sent-\(worker)")) }
                } catch {
                    daemon.signal(SIGCONT)
                    throw error
                }
                daemon.signal(SIGCONT)
                let line = try await daemon.waitFor("the late datagram in the log") {
                    daemon.logLines.master.first { $0.message.contains("late notify datagram from pid \(helper)") }
                }
                #expect(line.level == "debug", "\(line)")
                #expect(line.message.contains("for worker late#0[\(worker)], which has exited") && line.message.contains("STATUS=too late"), "\(line)")
                let replacement = try await StatsPolling.value(timeout: 10, "late#0 replaced", context: { daemon.diagnostics }) { () -> StatsProcess? in
                    let process = try await StatsCtl.status(daemon).inGroup("late").first
                    return process?.pid != nil && process?.pid != worker ? process : nil
                }
                #expect(replacement.statusText == nil, "the late STATUS= went to nobody: \(replacement)")
                #expect(!daemon.logLines.master.contains { $0.level == "warning" && $0.message.contains("notify datagram") }, "\(daemon.log)")
            }
        }

        // MARK: Helpers

        /// The files of one burst: the barrier and the workers' results.
        struct BurstSetup {
            let directory: TemporaryDirectory
            var go: String { directory.file("go") }
            var results: String { directory.file("results") }

            init() throws {
                directory = try TemporaryDirectory(prefix: "appd-burst-")
                try FileManager.default.createDirectory(atPath: directory.file("results"), withIntermediateDirectories: false)
            }

            func group(python: String, count: Int) -> GroupSpec {
                // A generous readiness deadline: fifty interpreters start
                // slowly on a loaded machine, and none may miss it for that.
                GroupSpec(name: "burst", command: [python, "-c", NotifyEndToEndTests.burstWorker, go, results],
                          count: count, readiness: .notify, readyTimeout: 60)
            }

            /// Pid → "sent" or why not, for every worker that has sent.
            var outcomes: [Int32: String] {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: results)) ?? []
                var outcomes: [Int32: String] = [:]
                for name in names {
                    guard let pid = Int32(name) else { continue }
                    outcomes[pid] = try? String(contentsOfFile: results + "/" + name, encoding: .utf8)
                }
                return outcomes
            }

            var waiting: Int {
                ((try? FileManager.default.contentsOfDirectory(atPath: results)) ?? []).filter { $0.hasSuffix(".waiting") }.count
            }
        }

        /// With `burst` workers waiting at the barrier: freezes the master
        /// (SIGSTOP: a master busy spawning reads nothing either), opens the
        /// barrier, lets every worker send its one READY=1, thaws the master,
        /// and checks that every send went through and every worker becomes
        /// ready, none replaced. With one socket for all, the kernel would
        /// have queued `net.unix.max_dgram_qlen` (10 here) + 1 of them.
        static func releaseBurst(_ daemon: DaemonUnderTest, _ setup: BurstSetup, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            try await daemon.waitUntil(timeout: 60, "\(burst) burst workers waiting at the barrier", sourceLocation: sourceLocation) {
                setup.waiting == burst
            }
            let workers = daemon.children().inGroup("burst")
            try #require(workers.count == burst, "\(workers)", sourceLocation: sourceLocation)
            let sockets = Set(workers.compactMap { ProcFS.environment(of: $0.pid)["NOTIFY_SOCKET"] })
            #expect(sockets.count == burst && sockets.allSatisfy { $0.hasPrefix(daemon.controlSocket + ".notify.d/") },
                    "a notify socket of its own for every worker: \(sockets.sorted())", sourceLocation: sourceLocation)

            daemon.signal(SIGSTOP)
            do {
                try await daemon.waitUntil("the master to be stopped", sourceLocation: sourceLocation) { ProcFS.state(of: daemon.pid) == "T" }
                _ = FileManager.default.createFile(atPath: setup.go, contents: Data())
                try await daemon.waitUntil(timeout: 30, "every burst worker to have sent READY=1", sourceLocation: sourceLocation) {
                    setup.outcomes.count == burst
                }
            } catch {
                daemon.signal(SIGCONT)
                throw error
            }
            daemon.signal(SIGCONT)
            let outcomes = setup.outcomes
            let failed = outcomes.filter { $0.value != "sent" }
            #expect(failed.isEmpty, "\(failed.count) of \(burst) non-blocking sends failed: \(failed)", sourceLocation: sourceLocation)
            #expect(Set(outcomes.keys) == Set(workers.map(\.pid)), sourceLocation: sourceLocation)

            let status = try await StatsPolling.value(timeout: 20, "all \(burst) burst workers running", context: { daemon.diagnostics },
                                                      sourceLocation: sourceLocation) { () -> StatsSnapshot? in
                let status = try await StatsCtl.status(daemon, group: "burst")
                let running = status.inGroup("burst").filter { $0.state == "running" }
                return running.count == burst ? status : nil
            }
            let processes = status.inGroup("burst")
            #expect(Set(processes.compactMap(\.pid)) == Set(workers.map(\.pid)), "the very processes that sent, none replaced",
                    sourceLocation: sourceLocation)
            #expect(processes.allSatisfy { $0.restarts == 0 }, "\(processes)", sourceLocation: sourceLocation)
            let readyLines = daemon.logLines.master.filter { $0.message.contains("is ready") && $0.message.contains("worker burst#") }
            #expect(readyLines.count >= burst, "\(readyLines.count) ready lines", sourceLocation: sourceLocation)
            #expect(!daemon.log.contains("not ready within"), "\(daemon.log)", sourceLocation: sourceLocation)
        }

        /// The master's open descriptors: number → what it points to
        /// (`socket:[123]`, `pipe:[456]`, a path).
        static func descriptors(of pid: Int32) -> [String: String] {
            let directory = "/proc/\(pid)/fd"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            var result: [String: String] = [:]
            for name in names {
                result[name] = (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name)) ?? "?"
            }
            return result
        }

        static func entries(of directory: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory)
        }
    }
}
