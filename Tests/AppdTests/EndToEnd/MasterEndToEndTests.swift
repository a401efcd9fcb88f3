import Foundation
import Glibc
import Shared
import Testing

extension EndToEnd {
    /// The real `appd` with real children, driven by signals and observed
    /// through its log, status file, pid file and /proc.
    ///
    /// Serialized: several tests measure time (backoff gaps, stopTimeout), and
    /// on a loaded two-core machine a dozen daemons starting at once would turn
    /// those measurements into noise. Each test still owns its daemon, its
    /// temporary directory and its ports, so nothing depends on the order.
    @Suite("appd end to end", .serialized)
    struct MasterEndToEndTests {
        // MARK: Supervision

        @Test("kill -9 of a child: replaced under the same worker id, exit logged as killed by SIGKILL")
        func killedChildIsReplacedWithTheSameWorkerID() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let before = try await daemon.waitFor("two sleepers, ids 0 and 1") {
                    let sleepers = daemon.children().inGroup("sleepers")
                    return sleepers.map(\.id) == [0, 1] ? sleepers : nil
                }
                let victim = before[1]
                kill(victim.pid, SIGKILL)

                let replacement = try await daemon.waitFor("a new process for sleepers#1") {
                    daemon.children().inGroup("sleepers").first { $0.id == 1 && $0.pid != victim.pid }
                }
                #expect(replacement.pid != victim.pid)
                #expect(ProcFS.environment(of: replacement.pid)["APP_MASTER_PID"] == String(daemon.pid))
                #expect(daemon.children().pidsByID("sleepers") == [0: before[0].pid, 1: replacement.pid],
                        "the untouched worker keeps its pid and nothing else runs")
                let exit = try await daemon.waitFor("the exit of pid \(victim.pid) in the log") {
                    daemon.logLines.master.containing("worker sleepers#1[\(victim.pid)] ").first { !$0.message.hasSuffix("] started") }
                }
                #expect(exit.message.contains("killed by SIGKILL"), "\(exit)")
                #expect(!exit.message.contains("sent by appd"), "appd did not send this SIGKILL: \(exit)")
            }
        }

        @Test("a child that keeps exiting 3 is restarted with growing gaps, and counted under exited 3")
        func crashLoopBacksOffAndIsCounted() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "crasher", command: Commands.exit3, count: 1)])
            try await withDaemon(spec) { daemon in
                // Backoff after 1, 2, 3, 4 quick exits: 0.1, 0.2, 0.4, 0.8 s, so
                // the fifth start comes about 1.5 s after the first.
                let starts = try await daemon.waitFor("five starts of crasher#0") {
                    let lines = daemon.logLines.master.containing("] started").filter { $0.message.contains("worker crasher#0[") }
                    return lines.count >= 5 ? Array(lines.prefix(5)) : nil
                }
                let gaps = zip(starts.dropFirst(), starts).map { $0.time - $1.time }
                for (index, gap) in gaps.enumerated() {
                    // The delay is a floor (a timer never fires early); the
                    // timestamps have millisecond resolution.
                    let backoff = 0.1 * Double(1 << index)
                    #expect(gap >= backoff - 0.002, "gap \(index) was \(gap)s, the backoff is \(backoff)s; gaps: \(gaps)")
                }
                for index in gaps.indices.dropFirst() {
                    #expect(gaps[index] > gaps[index - 1], "gaps between starts must grow: \(gaps)")
                }

                func exitsLogged() -> Int {
                    daemon.logLines.master.filter { $0.message.contains("worker crasher#") && $0.message.contains("exited 3") }.count
                }
                let exitsBefore = exitsLogged()
                let status = StatusFileText(try await daemon.statusSnapshot())
                let exitsAfter = exitsLogged()
                let counted = try #require(status.exitCount("crasher", "exited 3"), "no 'exited 3 ×N' for crasher in\n\(status)")
                #expect(counted >= 4)
                #expect((exitsBefore...exitsAfter).contains(counted), "status counts \(counted) exits, the log \(exitsBefore)...\(exitsAfter)")
                let row = try #require(status.processRows("crasher").first, "no crasher row in\n\(status)")
                #expect(row.contains { $0.hasPrefix("exited 3") }, "the last exit shows in the row: \(row)")
            }
        }

        // MARK: Reload

        @Test("SIGUSR1: reloadable workers replaced start-first, one at a time, as reload --help says; a non-reloadable one gets SIGUSR1 and stays")
        func rollingReloadReplacesOneAtATimeAndSignalsTheRest() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "rolling", command: Commands.demo("queue", "--interval", "3600"), count: 3),
                GroupSpec(name: "steady", command: Commands.demo("queue", "--interval", "3600"), count: 1, reloadable: false),
            ])
            try await withDaemon(spec) { daemon in
                let old = try await waitForQueueWorkers(daemon, rolling: 3, steady: 1)
                let rolling = old.inGroup("rolling")
                let steady = try #require(old.inGroup("steady").first)

                daemon.signal(SIGUSR1)
                try await daemon.waitUntil("the rolling reload to finish") {
                    daemon.log.contains("rolling reload of group rolling done: 3 processes replaced")
                }
                let new = daemon.children().inGroup("rolling")
                #expect(new.map(\.id) == [0, 1, 2])
                #expect(Set(new.map(\.pid)).isDisjoint(with: rolling.map(\.pid)), "every reloadable pid replaced: \(rolling) → \(new)")
                #expect(daemon.children().inGroup("steady") == [steady], "the non-reloadable worker keeps its pid")
                try await daemon.waitUntil("the non-reloadable worker to log SIGUSR1") {
                    daemon.logLines.contains { $0.source == "steady#0[\(steady.pid)]" && $0.message.contains("got SIGUSR1") }
                }

                // Start-first, one at a time: new #i starts beside old #i, old #i
                // is told to stop only after that (new #i is ready), and new #i+1
                // starts only once old #i has exited.
                try await daemon.waitUntil("every old worker to log its SIGTERM") {
                    rolling.allSatisfy { worker in daemon.logLines.contains { $0.source == "rolling#\(worker.id)[\(worker.pid)]" && $0.message.contains("got SIGTERM") } }
                }
                let lines = daemon.logLines
                func position(_ what: String, _ matches: (LogLine) -> Bool) throws -> Int {
                    let found = lines.first(where: matches)
                    return try #require(found, "no log line for \(what)\n\(daemon.log)").index
                }
                for id in 0..<3 {
                    let started = try position("new #\(id) starting") { $0.message.contains("worker rolling#\(id)[\(new[id].pid)] started beside") }
                    let signalled = try position("old #\(id) getting SIGTERM") {
                        $0.source == "rolling#\(id)[\(rolling[id].pid)]" && $0.message.contains("got SIGTERM")
                    }
                    let exited = try position("old #\(id) exiting") {
                        $0.source.hasPrefix("appd[") && $0.message.contains("worker rolling#\(id)[\(rolling[id].pid)] ") && $0.message.hasSuffix("(reload)")
                    }
                    #expect(started < signalled && signalled < exited,
                            "new #\(id) starts (line \(started)) before old #\(id) is signalled (\(signalled)) and exits (\(exited))")
                    if id < 2 {
                        let nextStarted = try position("new #\(id + 1) starting") { $0.message.contains("worker rolling#\(id + 1)[\(new[id + 1].pid)] started beside") }
                        #expect(exited < nextStarted, "old #\(id) exits (line \(exited)) before new #\(id + 1) starts (\(nextStarted))")
                    }
                }
                // What `appctl reload --help` promises is the order just checked.
                let help = try await daemon.appctl("reload", "--help")
                #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").contains("it starts the successor beside the running"),
                        "the help must describe the start-first order the daemon follows: \(help.stdout)")
            }
        }

        @Test("a bad config on SIGHUP is refused with its field path and changes nothing; a good one is applied")
        func badConfigOnReloadIsRefusedAndAGoodOneApplied() async throws {
            var spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let before = try await daemon.waitFor("two sleepers") {
                    let sleepers = daemon.children().pidsByID("sleepers")
                    return sleepers.count == 2 ? sleepers : nil
                }

                spec.groups[0].count = -1
                try daemon.writeConfig(spec)
                daemon.signal(SIGHUP)
                try await daemon.waitUntil("the reload to be refused") { daemon.log.contains("reload refused") }
                #expect(daemon.log.contains("\(daemon.configFile): groups[0].count: must be 0 or more, got -1"), "\(daemon.log)")
                // The status request is handled after the refused reload, so once
                // it is answered anything the reload might have done is done.
                let status = try await daemon.statusSnapshot()
                #expect(daemon.children().pidsByID("sleepers") == before, "the old processes keep running untouched")
                #expect(!daemon.log.contains("rolling reload of group sleepers"))
                #expect(!status.contains("stopping"))

                spec.groups[0].count = 3
                try daemon.writeConfig(spec)
                daemon.signal(SIGHUP)
                try await daemon.waitUntil("the reload with count 3 to finish") {
                    daemon.log.contains("rolling reload of group sleepers done")
                }
                let after = try await daemon.waitFor("three sleepers, ids 0, 1, 2") {
                    let sleepers = daemon.children().pidsByID("sleepers")
                    return sleepers.keys.sorted() == [0, 1, 2] ? sleepers : nil
                }
                #expect(Set(after.values).isDisjoint(with: before.values), "the reload rolled the old processes too")
                let resized = StatusFileText(try await daemon.statusSnapshot())
                #expect(resized.processRows("sleepers").map { $0[1] } == ["0", "1", "2"], "\(resized)")
            }
        }

        // MARK: Stop

        @Test("SIGTERM with a child that ignores it: SIGKILL after stopTimeout, nothing left, files removed")
        func stopEscalatesToSIGKILLAfterStopTimeout() async throws {
            let spec = DaemonSpec(stopTimeout: 1, groups: [
                GroupSpec(name: "stubborn", command: Commands.ignoreTerm, count: 1),
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let workers = try await daemon.waitFor("both workers, the shell having set its trap") { () -> [WorkerProcess]? in
                    let workers = daemon.children()
                    guard workers.count == 2, let stubborn = workers.inGroup("stubborn").first,
                          ProcFS.ignores(SIGTERM, pid: stubborn.pid) else { return nil }
                    return workers
                }
                let stubborn = try #require(workers.inGroup("stubborn").first)

                let sent = ContinuousClock.now
                daemon.signal(SIGTERM)
                let status = try await daemon.waitForExit(timeout: 10)
                let took = (ContinuousClock.now - sent) / .seconds(1)

                #expect(status == .init(exited: true, code: 0), "appd stops with exit 0")
                #expect(took >= 0.9 && took < 5, "the master took \(took)s to stop with stopTimeout 1")
                #expect(workers.allSatisfy { !ProcFS.isAlive($0.pid) }, "no worker outlives the master")
                // The shell's last `sleep 0.1` (ignoring TERM too) may take up to 0.1 s more.
                try await daemon.waitUntil(timeout: 3, "nothing started by the daemon to be left") { daemon.leftovers().isEmpty }
                #expect(daemon.log.contains("worker stubborn#0[\(stubborn.pid)] killed by SIGKILL (sent by appd after stopTimeout 1s)"),
                        "\(daemon.log)")
                #expect(!FileManager.default.fileExists(atPath: daemon.pidFile), "pid file removed")
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket), "control socket removed")
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket + ".notify.d"), "notify sockets' directory removed")
            }
        }

        @Test("kill -9 of the master: every child and grandchild is gone within a second or so")
        func killingTheMasterTakesEveryDescendantWithIt() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2),
                GroupSpec(name: "forker", command: Commands.forksGrandchild, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let family = try await daemon.waitFor("three workers and the forker's grandchild") { () -> [Int32]? in
                    let workers = daemon.children()
                    guard workers.count == 3, let forker = workers.inGroup("forker").first,
                          ProcFS.childPids(of: forker.pid).contains(where: { ProcFS.commandLine(of: $0) == "sleep 1000" })
                    else { return nil }
                    return daemon.descendants()
                }
                // The three workers and the grandchild (and whatever helper
                // processes of its own the master runs).
                #expect(family.count >= 4, "\(family.map(ProcFS.commandLine))")
                // Who each is: a pid the kernel hands to another process meanwhile is no survivor.
                let born = Dictionary(uniqueKeysWithValues: family.map { ($0, ProcFS.startTime(of: $0)) })

                daemon.signal(SIGKILL)
                try await daemon.waitForExit(timeout: 5)
                _ = try? await daemon.waitUntil(timeout: 3, "every descendant of the killed master to die") {
                    family.allSatisfy { !ProcFS.isAlive($0, startedAt: born[$0] ?? nil) } && daemon.leftovers().isEmpty
                }
                let survivors = Set(family.filter { ProcFS.isAlive($0, startedAt: born[$0] ?? nil) } + daemon.leftovers()).sorted()
                #expect(survivors.isEmpty, "alive 3 s after the master was killed: \(survivors.map { "\($0) \(ProcFS.commandLine(of: $0)) (parent \(ProcFS.parent(of: $0) ?? 0))" })")
            }
        }

        @Test("SIGTERM: a grandchild a worker forked does not outlive the master either")
        func stopLeavesNoGrandchild() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "forker", command: Commands.forksGrandchild, count: 1)])
            try await withDaemon(spec) { daemon in
                let family = try await daemon.waitFor("the forker and its grandchild") { () -> [Int32]? in
                    guard let forker = daemon.children().first,
                          ProcFS.childPids(of: forker.pid).contains(where: { ProcFS.commandLine(of: $0) == "sleep 1000" })
                    else { return nil }
                    return daemon.descendants()
                }
                let born = Dictionary(uniqueKeysWithValues: family.map { ($0, ProcFS.startTime(of: $0)) })
                daemon.signal(SIGTERM)
                try await daemon.waitForExit(timeout: 10)
                _ = try? await daemon.waitUntil(timeout: 3, "every descendant of the stopped master to die") {
                    family.allSatisfy { !ProcFS.isAlive($0, startedAt: born[$0] ?? nil) } && daemon.leftovers().isEmpty
                }
                let survivors = Set(family.filter { ProcFS.isAlive($0, startedAt: born[$0] ?? nil) } + daemon.leftovers()).sorted()
                #expect(survivors.isEmpty, "alive 3 s after the master stopped: \(survivors.map { "\($0) \(ProcFS.commandLine(of: $0)) (parent \(ProcFS.parent(of: $0) ?? 0))" })")
            }
        }

        // MARK: Files, modes, command line

        @Test("a second appd on the same pid file is refused, naming the running pid, and touches nothing")
        func secondDaemonOnTheSamePidFileIsRefused() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                let worker = try await daemon.waitFor("a sleeper") { daemon.children().first }

                let second = try await daemon.runAppd(["--config", daemon.configFile])
                #expect(second.exitedWithFailure, "\(second)")
                #expect(second.stderr.contains("pid \(daemon.pid)"), "the refusal names the running pid: \(second)")
                #expect(daemon.isRunning)
                #expect(daemon.pidFileContents == daemon.pid, "the pid file still names the first daemon")
                #expect(FileManager.default.fileExists(atPath: daemon.controlSocket), "the first daemon's socket is still there")
                let notifySocket = try #require(ProcFS.environment(of: worker.pid)["NOTIFY_SOCKET"])
                #expect(notifySocket.hasPrefix(daemon.controlSocket + ".notify.d/"), "\(notifySocket)")
                #expect(FileManager.default.fileExists(atPath: notifySocket), "the first daemon's worker keeps its notify socket")
                #expect(daemon.children() == [worker], "the first daemon's worker is untouched")
                // A helper the refused daemon forked may take a moment to
                // notice that its daemon is gone.
                try await daemon.waitUntil(timeout: 5, "the refused daemon to leave nothing running") {
                    Set(daemon.leftovers()).subtracting(daemon.descendants()).isEmpty
                }
            }
        }

        @Test("a second appd on the same control socket (another pid file) is refused and leaves the socket alone")
        func secondDaemonOnTheSameSocketIsRefused() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                let worker = try await daemon.waitFor("a sleeper") { daemon.children().first }
                let otherConfig = daemon.directory.file("other.json5")
                let otherPidFile = daemon.directory.file("other.pid")
                try spec.render(controlSocket: daemon.controlSocket, pidFile: otherPidFile,
                                statusFile: daemon.directory.file("other.status"), logFile: daemon.directory.file("other.log"))
                    .write(toFile: otherConfig, atomically: true, encoding: .utf8)

                let second = try await daemon.runAppd(["--config", otherConfig])
                #expect(second.exitedWithFailure, "\(second)")
                #expect(second.stderr.contains(daemon.controlSocket), "the refusal names the socket: \(second)")
                #expect(daemon.isRunning)
                #expect(FileManager.default.fileExists(atPath: daemon.controlSocket), "the first daemon's socket is still there")
                #expect(!FileManager.default.fileExists(atPath: otherPidFile), "the refused daemon removed its own pid file")
                #expect(daemon.children() == [worker])
                // A helper the refused daemon forked may take a moment to
                // notice that its daemon is gone.
                try await daemon.waitUntil(timeout: 5, "the refused daemon to leave nothing running") {
                    Set(daemon.leftovers()).subtracting(daemon.descendants()).isEmpty
                }
            }
        }

        @Test("appd --check: every problem with file and field path, exit 1; a good file, exit 0 and a summary")
        func checkReportsEveryProblem() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2),
                GroupSpec(name: "web", command: Commands.demo("web"), count: 1, listen: ["tcp://127.0.0.1:1"]),
            ])
            try await withDaemon(spec, start: false) { daemon in
                let bad = daemon.directory.file("bad.json5")
                try """
                    // four groups, six problems
                    {
                      controlSocket: "ctl.sock", pidFile: "appd.pid", statusFile: "appd.status", logFile: "appd.log",
                      groups: [
                        {name: "web", command: [], count: -1},
                        {name: "web", command: ["/bin/true"], listen: ["tcp://nowhere"], stopSignal: "NOPE"},
                        {command: ["/bin/true"]},
                      ],
                    }
                    """.write(toFile: bad, atomically: true, encoding: .utf8)
                let refused = try await daemon.runAppd(["--check", "--config", bad])
                #expect(refused.exited(1), "\(refused)")
                let output = refused.stdout + refused.stderr
                for field in ["groups[0].command", "groups[0].count", "groups[1].name", "groups[1].listen[0]", "groups[1].stopSignal", "groups[2].name"] {
                    #expect(output.contains("\(bad): \(field): "), "no problem reported for \(field):\n\(output)")
                }

                let good = try await daemon.runAppd(["--check", "--config", daemon.configFile])
                #expect(good.exited(0), "\(good)")
                #expect(good.stdout.contains("\(daemon.configFile): OK"), "\(good)")
                #expect(good.stdout.contains("sleepers ×2") && good.stdout.contains("web ×1 on tcp://127.0.0.1:1"), "\(good)")
                #expect(!FileManager.default.fileExists(atPath: daemon.pidFile), "--check starts nothing")
                #expect(daemon.leftovers().isEmpty)
            }
        }

        @Test("--daemonize returns 0 once the daemon is up, and the daemon is not the launcher")
        func daemonizeReturnsOnceUp() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                let launcher = try await daemon.startDaemonized()
                #expect(launcher.exited(0), "\(launcher)")
                let pid = try #require(daemon.pidFileContents, "no pid in the pid file")
                #expect(pid != launcher.pid)
                #expect(daemon.isRunning, "the daemon named in the pid file runs")
                #expect(FileManager.default.fileExists(atPath: daemon.controlSocket), "the socket exists when the launcher returns")
                #expect(ProcFS.parent(of: pid) != getpid(), "the daemon is detached from whoever launched it")
                _ = try await daemon.waitFor("the daemon's sleeper") { daemon.children().first }
            }
        }

        @Test("--daemonize keeps none of the launcher's descriptors, so a caller waiting for EOF returns")
        func daemonizeClosesInheritedDescriptors() async throws {
            // Foundation.Process, for one, learns that its child exited from EOF
            // on a socket the child inherits: a daemon that keeps it makes
            // `waitUntilExit()` on `appd --daemonize` hang forever.
            var ends: [Int32] = [-1, -1]
            try #require(pipe(&ends) == 0)
            defer { close(ends[0]) }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                let launcher = try await daemon.startDaemonized(inheritAtFD3: ends[1])
                close(ends[1])
                #expect(launcher.exited(0), "\(launcher)")
                #expect(daemon.isRunning)
                var byte: UInt8 = 0
                _ = try? await Polling.until(timeout: 2, "EOF on the pipe the launcher inherited") { read(ends[0], &byte, 1) == 0 }
                let held = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd"))?.sorted().compactMap { fd -> String? in
                    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon.pid)/fd/\(fd)")) ?? "?"
                    return "\(fd) → \(target)"
                } ?? []
                #expect(read(ends[0], &byte, 1) == 0, "the daemon (pid \(daemon.pid)) still holds the pipe given to the launcher at fd 3; its fds: \(held)")
            }
        }

        @Test("--daemonize returns non-zero when start-up fails (listen address in use)")
        func daemonizeReportsAFailedStart() async throws {
            let holder = try TCPListener(port: 0)
            defer { holder.close() }
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.demo("web"), count: 1, listen: ["tcp://127.0.0.1:\(holder.port)"]),
            ])
            try await withDaemon(spec, start: false) { daemon in
                let launcher = try await daemon.startDaemonized()
                #expect(launcher.exitedWithFailure, "\(launcher)")
                #expect(launcher.stderr.contains("start-up failed"), "\(launcher)")
                #expect(daemon.log.contains("cannot start") && daemon.log.contains("127.0.0.1:\(holder.port)"), "\(daemon.log)")
                try await daemon.waitUntil(timeout: 5, "nothing of the failed daemon to be left") { daemon.leftovers().isEmpty }
                #expect(!FileManager.default.fileExists(atPath: daemon.pidFile))
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket))
            }
        }

        // MARK: Workers' I/O

        @Test("the demo web worker serves GET / from the inherited socket; a reload refuses no connection")
        func webWorkersServeAndReloadRefusesNoConnection() async throws {
            let port = try FreePort.tcp()
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.demo("web"), count: 2, listen: ["tcp://127.0.0.1:\(port)"], readiness: .notify),
            ])
            try await withDaemon(spec) { daemon in
                let old = try await daemon.waitFor("two web workers serving") { () -> [WorkerProcess]? in
                    let web = daemon.children().inGroup("web")
                    let lines = daemon.logLines
                    guard web.map(\.id) == [0, 1], web.allSatisfy({ worker in
                        lines.contains { $0.source == "web#\(worker.id)[\(worker.pid)]" && $0.message.contains("serving") }
                    }) else { return nil }
                    return web
                }
                let first = HTTPProbe.get(port: port)
                guard case .answered(200, let body) = first else {
                    Issue.record("GET / answered \(first)")
                    return
                }
                let server = old.first { body.contains("worker \($0.id) pid \($0.pid)") }
                #expect(server != nil, "'\(body)' names one of \(old)")

                let hammer = HTTPHammer(port: port, minimum: 300)
                hammer.start()
                try await daemon.waitUntil("the client to be under way") { hammer.count >= 20 }
                daemon.signal(SIGUSR1)
                try await daemon.waitUntil(timeout: 15, "the rolling reload of web to finish") {
                    daemon.log.contains("rolling reload of group web done: 2 processes replaced")
                }
                let outcomes = await hammer.stop()
                let refused = outcomes.filter { $0 == .refused }.count
                let failed = outcomes.compactMap { outcome -> String? in if case .failed(let why) = outcome { why } else { nil } }
                #expect(outcomes.count >= 300)
                #expect(refused == 0, "\(refused) of \(outcomes.count) connections refused during the reload")
                // Not only never refused: never reset either (the old worker
                // answers what it accepted; the next test pins that down).
                #expect(failed.isEmpty, "\(failed.count) of \(outcomes.count) requests failed during the reload: \(Set(failed))")

                let new = daemon.children().inGroup("web")
                let servedBy = Set(outcomes.compactMap { outcome -> Int32? in
                    guard case .answered(_, let body) = outcome else { return nil }
                    return body.firstMatch(of: /pid (\d+)/).flatMap { Int32($0.1) }
                })
                #expect(!servedBy.isDisjoint(with: old.map(\.pid)) && !servedBy.isDisjoint(with: new.map(\.pid)),
                        "the client was served across the reload, by old \(old) and new \(new) workers: \(servedBy.sorted())")
            }
        }

        @Test("a request a web worker accepted but had not read yet when the reload stopped it is still answered")
        func requestInFlightWhenAWorkerIsStoppedIsAnswered() async throws {
            let port = try FreePort.tcp()
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.demo("web"), count: 1, listen: ["tcp://127.0.0.1:\(port)"], readiness: .notify),
            ])
            try await withDaemon(spec) { daemon in
                let worker = try await daemon.waitFor("the web worker serving") { () -> WorkerProcess? in
                    guard let worker = daemon.children().first else { return nil }
                    let serving = daemon.logLines.contains { $0.source == "web#0[\(worker.pid)]" && $0.message.contains("serving") }
                    return serving ? worker : nil
                }
                // Deterministic ordering, with SIGSTOP: the worker accepts the
                // connection; is frozen; the request arrives; the reload's
                // SIGTERM is queued; the worker thaws and sees both at once.
                let sockets = ProcFS.socketCount(of: worker.pid)
                let client = try HTTPProbe.connect(port: port).get()
                try await daemon.waitUntil("the worker to accept the connection") { ProcFS.socketCount(of: worker.pid) > sockets }
                kill(worker.pid, SIGSTOP)
                try await daemon.waitUntil("the worker to be stopped") { ProcFS.state(of: worker.pid) == "T" }
                #expect(client.sendRequest() == nil)
                daemon.signal(SIGUSR1)
                try await daemon.waitUntil("the reload's SIGTERM to be pending for the worker") { ProcFS.hasPending(SIGTERM, pid: worker.pid) }
                kill(worker.pid, SIGCONT)

                let answer = client.receiveAnswer()
                #expect(answer == .answered(status: 200, body: "hello from web worker 0 pid \(worker.pid)\n"),
                        "a request sent before the worker was told to stop must be answered, got \(answer)")
            }
        }

        @Test("a worker's stdout and stderr lines appear in the log labelled group#id[pid]")
        func workerOutputIsLoggedWithItsLabel() async throws {
            let talker = ["/bin/sh", "-c", #"echo "hello from $APP_GROUP $APP_WORKER_ID"; echo "oops $APP_WORKER_ID" >&2; exec /bin/sleep 1000"#]
            let spec = DaemonSpec(groups: [GroupSpec(name: "talker", command: talker, count: 2)])
            try await withDaemon(spec) { daemon in
                let workers = try await daemon.waitFor("two talkers") {
                    let talkers = daemon.children().inGroup("talker")
                    return talkers.map(\.id) == [0, 1] ? talkers : nil
                }
                for worker in workers {
                    try await daemon.waitUntil("\(worker)'s output in the log") {
                        let lines = daemon.logLines.filter { $0.source == "talker#\(worker.id)[\(worker.pid)]" }
                        return lines.contains { $0.level == "stdout" && $0.message == "hello from talker \(worker.id)" }
                            && lines.contains { $0.level == "stderr" && $0.message == "oops \(worker.id)" }
                    }
                }
            }
        }
    }
}

/// Waits until the queue workers of the reload test are all running and have
/// installed their signal handlers (they log a line once they have).
private func waitForQueueWorkers(_ daemon: EndToEnd.DaemonUnderTest, rolling: Int, steady: Int) async throws -> [EndToEnd.WorkerProcess] {
    try await daemon.waitFor("\(rolling) rolling and \(steady) steady queue workers, started") {
        let workers = daemon.children()
        let lines = daemon.logLines
        guard workers.inGroup("rolling").count == rolling, workers.inGroup("steady").count == steady,
              workers.allSatisfy({ worker in
                  lines.contains { $0.source == "\(worker.group)#\(worker.id)[\(worker.pid)]" && $0.message.contains("started") }
              }) else { return nil }
        return workers
    }
}
