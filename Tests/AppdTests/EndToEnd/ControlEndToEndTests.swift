import Foundation
import Glibc
import Shared
import Testing

extension EndToEnd {
    /// The control socket end to end: a real `appd` with real children, driven
    /// by the real `appctl` binary and by raw Unix-socket clients, checked
    /// against what /proc and the daemon's log say really happened.
    ///
    /// Serialized for the same reason as the master's suite: several tests
    /// load the machine on purpose (200 clients, a client flooded with
    /// snapshots) and others time a reload; each still owns its daemon,
    /// temporary directory and socket.
    @Suite("appd control socket and appctl end to end", .serialized)
    struct ControlEndToEndTests {
        // MARK: - appctl: every subcommand

        @Test("appctl ping and version: exit 0; the daemon's version and protocol; --socket, --config and APPCTL_SOCKET all find it")
        func pingAndVersion() async throws {
            try await withDaemon(DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever)])) { daemon in
                let ping = try await daemon.appctl("ping")
                #expect(ping.exited(0), "\(ping)")
                #expect(ping.stdout.hasPrefix("pong from appd at \(daemon.controlSocket) in "), "\(ping)")
                let pingJSON = try await daemon.appctl("ping", "--json")
                #expect(try pingJSON.jsonObject()["pong"] as? Bool == true, "\(pingJSON)")

                let version = try await daemon.appctl("version")
                #expect(version.exited(0), "\(version)")
                #expect(version.stdoutLines == [
                    "appctl \(AppdVersion.current)",
                    "appd   \(AppdVersion.current) (control protocol \(AppdVersion.controlProtocol))",
                ], "\(version)")
                #expect(daemon.log.contains("appd \(AppdVersion.current) started, pid \(daemon.pid)"), "the daemon runs that version")
                // The start line says where everything is.
                let start = try #require(daemon.logLines.master.first { $0.message.contains(" started, pid ") })
                #expect(start.message.contains("from config \(daemon.configFile); control socket \(daemon.controlSocket), pid file \(daemon.pidFile)"),
                        "\(start.message)")
                let json = try await daemon.appctl("version", "--json").jsonObject()
                #expect(json["version"] as? String == AppdVersion.current)
                #expect(int(json["protocol"]) == AppdVersion.controlProtocol)

                // The socket found from the config's controlSocket, and from the environment.
                let viaConfig = try await daemon.appctl(arguments: ["--config", daemon.configFile, "ping"])
                #expect(viaConfig.exited(0) && viaConfig.stdout.contains(daemon.controlSocket), "\(viaConfig)")
                let viaEnvironment = try await daemon.appctl(arguments: ["ping"], environment: ["APPCTL_SOCKET": daemon.controlSocket])
                #expect(viaEnvironment.exited(0) && viaEnvironment.stdout.contains(daemon.controlSocket), "\(viaEnvironment)")
            }
        }

        @Test("appctl status: a table of every process; --json is one document matching /proc; --group narrows it; --watch streams")
        func statusMatchesTheProcesses() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 3, readiness: GroupSpec.Readiness.none),
                GroupSpec(name: "chatty", command: Self.trapping("HUP"), count: 1, readiness: GroupSpec.Readiness.none),
            ])
            try await withDaemon(spec) { daemon in
                let workers = try await daemon.waitFor("3 sleepers and 1 chatty") {
                    let all = daemon.children()
                    return all.inGroup("sleepers").map(\.id) == [0, 1, 2] && all.inGroup("chatty").map(\.id) == [0] ? all : nil
                }

                let table = try await daemon.appctl("status")
                #expect(table.exited(0), "\(table)")
                let rows = tableRows(table.stdout)
                #expect(table.stdout.hasPrefix("appd \(AppdVersion.current)  pid \(daemon.pid)  "), "\(table.stdout)")
                for worker in workers {
                    #expect(rows.contains { $0.count > 3 && $0[0] == worker.group && $0[1] == "\(worker.id)" && $0[2] == "\(worker.pid)" && $0[3] == "running" },
                            "no row for \(worker) in\n\(table.stdout)")
                }

                let document = try await daemon.appctl("status", "--json")
                #expect(document.exited(0), "\(document)")
                let status = try document.jsonObject()
                let master = try #require(status["master"] as? [String: Any])
                #expect(int(master["pid"]) == Int(daemon.pid))
                #expect(int(master["groups"]) == 2)
                #expect(int(master["processes"]) == 4)
                let processes = try #require(status["processes"] as? [[String: Any]])
                #expect(Set(processes.map(Self.worker)) == Set(workers), "status --json vs /proc: \(processes) vs \(workers)")
                for process in processes {
                    #expect(process["state"] as? String == "running", "\(process)")
                    let pid = try #require(int(process["pid"]))
                    #expect(ProcFS.parent(of: Int32(pid)) == daemon.pid, "pid \(pid) is a child of the master")
                }
                let summaries = try #require(master["groupSummaries"] as? [[String: Any]])
                #expect(summaries.map { $0["name"] as? String } == ["sleepers", "chatty"])
                #expect(summaries.map { int($0["running"]) } == [3, 1])

                for arguments in [["status", "--group", "chatty", "--json"], ["status", "chatty", "--json"]] {
                    let narrowed = try await daemon.appctl(arguments: ["--socket", daemon.controlSocket] + arguments).jsonObject()
                    let only = try #require(narrowed["processes"] as? [[String: Any]])
                    #expect(only.map(Self.worker) == workers.inGroup("chatty"), "\(arguments): \(only)")
                    let onlySummaries = (narrowed["master"] as? [String: Any])?["groupSummaries"] as? [[String: Any]]
                    #expect(onlySummaries?.map { $0["name"] as? String } == ["chatty"], "\(arguments)")
                }
                let narrowedTable = try await daemon.appctl("status", "--group", "sleepers")
                let narrowedRows = tableRows(narrowedTable.stdout).filter { $0.count > 3 && Int($0[1]) != nil }
                #expect(narrowedRows.map { $0[0] } == ["sleepers", "sleepers", "sleepers"], "\(narrowedTable.stdout)")

                // --watch --json: one complete document per snapshot, per line, until ended.
                let watcher = try daemon.startAppctl("status", "--watch", "0.1", "--json")
                defer { watcher.stop() }
                let snapshots = try await daemon.waitFor("three snapshots from status --watch 0.1 --json") { () -> [String]? in
                    let lines = watcher.stdout.split(separator: "\n").map(String.init)
                    return lines.count >= 3 ? Array(lines.prefix(3)) : nil
                }
                for line in snapshots {
                    let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
                    #expect(int((snapshot["master"] as? [String: Any])?["pid"]) == Int(daemon.pid))
                    #expect((snapshot["processes"] as? [[String: Any]])?.count == 4, "\(line)")
                }
                #expect(watcher.child.isRunning, "--watch keeps going until stopped")
            }
        }

        @Test("appctl reload: one progress line per replaced process, exit 0, and the pids really changed")
        func reloadReplacesEveryProcess() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "rolling", command: Commands.sleepForever, count: 3),
                GroupSpec(name: "other", command: Commands.sleepForever, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "rolling", count: 3)
                let other = try await Self.workers(daemon, "other", count: 1)

                let reload = try await daemon.appctl("reload", "rolling")
                #expect(reload.exited(0), "\(reload)")
                let lines = reload.stdoutLines
                #expect(lines.count == 5, "\(reload)")
                let progress = lines.compactMap(Self.progressLine)
                #expect(progress.map(\.id) == [0, 1, 2], "one progress line per process, in id order: \(lines)")
                #expect(progress.map(\.oldPid) == before.map(\.pid), "the old pids were those /proc showed: \(lines) vs \(before)")
                #expect(lines.suffix(2) == ["rolling: reloaded, 3 processes replaced", "reload finished: 1 group"], "\(lines)")

                let after = try await daemon.waitFor("the new rolling pids in /proc") { () -> [WorkerProcess]? in
                    let now = daemon.children().inGroup("rolling")
                    return now.map(\.pid) == progress.map(\.newPid) ? now : nil
                }
                #expect(Set(after.map(\.pid)).isDisjoint(with: before.map(\.pid)), "every pid changed: \(before) → \(after)")
                #expect(before.allSatisfy { !ProcFS.isAlive($0.pid) }, "the old processes are gone")
                #expect(daemon.children().inGroup("other") == other, "a reload of one group leaves the others alone")

                // --json: one document with the same story.
                let json = try await daemon.appctl("reload", "--group", "rolling", "--json")
                #expect(json.exited(0), "\(json)")
                let document = try json.jsonObject()
                let replaced = try #require(document["replaced"] as? [[String: Any]])
                #expect(replaced.compactMap { int($0["oldPid"]) }.map(Int32.init) == after.map(\.pid))
                let reloaded = try #require(document["reloaded"] as? [[String: Any]])
                #expect(reloaded.count == 1 && reloaded[0]["outcome"] as? String == "completed" && int(reloaded[0]["replaced"]) == 3, "\(reloaded)")
                try await daemon.waitUntil("the pids of the second reload in /proc") {
                    daemon.children().inGroup("rolling").map { Int($0.pid) } == replaced.compactMap { int($0["newPid"]) }
                }
            }
        }

        @Test("appctl reload of a non-reloadable group: SIGUSR1 to each process, pids kept, exit 0")
        func reloadOfANonReloadableGroupSignals() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "steady", command: Self.trapping("USR1"), count: 2, reloadable: false)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.trappedWorkers(daemon, "steady", count: 2)
                let reload = try await daemon.appctl("reload", "--group", "steady")
                #expect(reload.exited(0), "\(reload)")
                #expect(reload.stdoutLines == ["steady: not reloadable, sent SIGUSR1 to 2 processes", "reload finished: 1 group"], "\(reload)")
                try await daemon.waitUntil("each steady worker to log the SIGUSR1 it trapped") {
                    before.allSatisfy { daemon.outputLines(of: $0).contains("got USR1") }
                }
                #expect(daemon.children().inGroup("steady") == before, "the processes are kept")
            }
        }

        @Test("appctl restart G: every process of G replaced at once under the same ids; other groups untouched")
        func restartReplacesTheGroup() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2),
                GroupSpec(name: "other", command: Commands.sleepForever, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "sleepers", count: 2)
                let other = try await Self.workers(daemon, "other", count: 1)
                let restart = try await daemon.appctl("restart", "sleepers")
                #expect(restart.exited(0), "\(restart)")
                #expect(restart.stdout == "restarting group sleepers\n")
                let after = try await daemon.waitFor("two new sleepers, ids 0 and 1") { () -> [WorkerProcess]? in
                    let now = daemon.children().inGroup("sleepers")
                    return now.map(\.id) == [0, 1] && Set(now.map(\.pid)).isDisjoint(with: before.map(\.pid)) ? now : nil
                }
                #expect(after.count == 2)
                #expect(daemon.children().inGroup("other") == other)
            }
        }

        @Test("appctl stop --group G returns once G's processes are gone; status shows it stopped; start G brings it back")
        func stopAndStartAGroup() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "slow", command: Self.slowToStop, count: 2, stopTimeout: 5),
                GroupSpec(name: "other", command: Commands.sleepForever, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let before = try await Self.trappedWorkers(daemon, "slow", count: 2)
                let other = try await Self.workers(daemon, "other", count: 1)

                let sent = ContinuousClock.now
                let stop = try await daemon.appctl("stop", "--group", "slow")
                let took = (ContinuousClock.now - sent) / .seconds(1)
                #expect(stop.exited(0), "\(stop)")
                #expect(stop.stdout == "stopped group slow\n")
                // At the moment appctl returned: each worker spends 0.3 s in its TERM trap.
                #expect(before.allSatisfy { !ProcFS.isAlive($0.pid) }, "the group's processes are gone when stop returns: \(before)")
                #expect(took >= 0.29, "stop took \(took)s, less than the workers' 0.3 s of exiting")
                #expect(daemon.children().inGroup("other") == other)

                let status = try await daemon.appctl("status", "--json").jsonObject()
                let summary = try #require(Self.summaries(status).first { $0["name"] as? String == "slow" })
                #expect(summary["state"] as? String == "stopped" && int(summary["running"]) == 0, "\(summary)")
                let slots = try #require(status["processes"] as? [[String: Any]]).filter { $0["group"] as? String == "slow" }
                #expect(slots.map { $0["state"] as? String } == ["stopped", "stopped"], "\(slots)")
                #expect(slots.allSatisfy { $0["pid"] is NSNull }, "a stopped slot has no pid: \(slots)")
                let table = try await daemon.appctl("status", "slow")
                #expect(tableRows(table.stdout).contains { $0.first == "slow" && $0.contains("stopped") }, "\(table.stdout)")

                // It stays stopped: nothing respawns (a short wait to show nothing happens).
                try await Task.sleep(for: .milliseconds(300))
                #expect(daemon.children().inGroup("slow").isEmpty)

                let start = try await daemon.appctl("start", "slow")
                #expect(start.exited(0), "\(start)")
                #expect(start.stdout == "started group slow\n")
                let started = try await Self.workers(daemon, "slow", count: 2)
                #expect(Set(started.map(\.pid)).isDisjoint(with: before.map(\.pid)))
                let running = try await daemon.appctl("status", "--group", "slow", "--json").jsonObject()
                #expect(Self.summaries(running).first?["state"] as? String == "running")
            }
        }

        @Test("appctl scale G N: ids 0..N-1 in /proc and status; scaling down keeps the lowest ids")
        func scaleResizesTheGroup() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "scaled", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "scaled", count: 2)
                let up = try await daemon.appctl("scale", "scaled", "4")
                #expect(up.exited(0), "\(up)")
                #expect(up.stdout == "scaled group scaled to 4 processes\n")
                let four = try await Self.workers(daemon, "scaled", count: 4)
                #expect(Array(four.prefix(2)) == before, "ids 0 and 1 keep their processes")
                let status = try await daemon.appctl("status", "scaled", "--json").jsonObject()
                #expect((status["processes"] as? [[String: Any]])?.map { int($0["id"]) } == [0, 1, 2, 3])
                #expect(int(Self.summaries(status).first?["count"]) == 4)

                let down = try await daemon.appctl("scale", "--group", "scaled", "1", "--json")
                #expect(down.exited(0), "\(down)")
                #expect(try int(down.jsonObject()["count"]) == 1)
                try await daemon.waitUntil("scaled down to id 0 alone") { daemon.children().inGroup("scaled") == [before[0]] }
                #expect(four.dropFirst().allSatisfy { !ProcFS.isAlive($0.pid) })
            }
        }

        @Test("appctl signal G HUP: every process of G gets it (a trap logs it), nobody else, pids kept")
        func signalReachesTheGroup() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "hup", command: Self.trapping("HUP"), count: 2),
                GroupSpec(name: "bystander", command: Self.trapping("HUP"), count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let targets = try await Self.trappedWorkers(daemon, "hup", count: 2)
                let bystander = try await Self.trappedWorkers(daemon, "bystander", count: 1)
                let signal = try await daemon.appctl("signal", "hup", "HUP")
                #expect(signal.exited(0), "\(signal)")
                #expect(signal.stdout == "sent SIGHUP to 2 processes of group hup\n")
                try await daemon.waitUntil("both hup workers to log the SIGHUP they trapped") {
                    targets.allSatisfy { daemon.outputLines(of: $0).contains("got HUP") }
                }
                #expect(daemon.children().inGroup("hup") == targets)
                // The targets logged within ~0.1 s; give the bystander as long again to show it got nothing.
                try await Task.sleep(for: .milliseconds(300))
                #expect(!daemon.outputLines(of: bystander[0]).contains("got HUP"), "only the named group is signalled")

                let json = try await daemon.appctl("signal", "--group", "hup", "1", "--json")
                #expect(try int(json.jsonObject()["signalled"]) == 2, "\(json)")
                try await daemon.waitUntil("both hup workers to log SIGHUP (given as 1) again") {
                    targets.allSatisfy { daemon.outputLines(of: $0).filter { $0 == "got HUP" }.count == 2 }
                }
            }
        }

        @Test("appctl logs: a group's history (its worker's output and appd's line about it); --follow gets a new line as it is printed")
        func logsAndFollow() async throws {
            let chatty = ["/bin/sh", "-c", "echo hello-1; echo hello-2 >&2; trap 'echo got HUP' HUP; echo trapped; while :; do sleep 0.1; done"]
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "chatty", command: chatty, count: 1),
                GroupSpec(name: "quiet", command: Self.trapping("HUP"), count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let worker = try #require(try await Self.trappedWorkers(daemon, "chatty", count: 1).first)
                _ = try await Self.trappedWorkers(daemon, "quiet", count: 1)
                let label = "chatty#0[\(worker.pid)]"

                let logs = try await daemon.appctl("logs", "chatty")
                #expect(logs.exited(0), "\(logs)")
                #expect(logs.stdoutLines.first?.hasSuffix("Z \(label) appd: started") == true, "appd's line first: \(logs.stdout)")
                for expected in ["\(label) stdout: hello-1", "\(label) stderr: hello-2", "\(label) stdout: trapped"] {
                    #expect(logs.stdoutLines.contains { $0.hasSuffix(expected) }, "no '\(expected)' in\n\(logs.stdout)")
                }
                #expect(logs.stdoutLines.count == 4 && !logs.stdout.contains("quiet#"), "only chatty's lines: \(logs.stdout)")
                let last = try await daemon.appctl("logs", "chatty", "--lines", "1")
                // stdout and stderr are read from two pipes, so which came last varies; `--lines 1` gives that one.
                #expect(last.stdoutLines.count == 1 && last.stdoutLines.last == logs.stdoutLines.last, "\(last) vs \(logs)")
                let json = try await daemon.appctl("logs", "--group", "chatty", "--stream", "stdout", "--json")
                let entries = try json.stdoutLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
                #expect(entries.count == 2)
                #expect(entries.allSatisfy { $0["group"] as? String == "chatty" && int($0["pid"]) == Int(worker.pid) && int($0["id"]) == 0 })
                #expect(entries.compactMap { $0["line"] as? String } == ["hello-1", "trapped"])

                let sockets = daemon.masterSocketCount
                let follower = try daemon.startAppctl("logs", "chatty", "--follow")
                defer { follower.stop() }
                try await daemon.waitUntil("the follower to print the backlog") { follower.stdout.contains("\(label) stdout: trapped") }
                kill(worker.pid, SIGHUP)
                try await daemon.waitUntil("the follower to print the line the worker printed after it started following") {
                    follower.stdout.contains("\(label) stdout: got HUP")
                }
                #expect(follower.child.isRunning, "--follow keeps following")
                #expect(follower.stop() != nil, "the follower ended when told to")
                // At most: a client before it (an appctl that just exited) may still have been counted.
                try await daemon.waitUntil("the daemon to let go of the follower's connection") { daemon.masterSocketCount <= sockets }
                #expect(try await daemon.appctl("ping").exited(0))
            }
        }

        @Test("appctl stop: the reply comes first (exit 0), then the daemon exits 0 and removes its socket and pid file")
        func stopTheDaemon() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let workers = try await Self.workers(daemon, "sleepers", count: 2)
                let stop = try await daemon.appctl("stop")
                #expect(stop.exited(0), "\(stop)")
                #expect(stop.stdout == "appd is stopping\n" && stop.stderr.isEmpty, "\(stop)")
                let status = try await daemon.waitForExit()
                #expect(status == .init(exited: true, code: 0))
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket), "control socket removed")
                #expect(!FileManager.default.fileExists(atPath: daemon.pidFile), "pid file removed")
                #expect(workers.allSatisfy { !ProcFS.isAlive($0.pid) })
                #expect(daemon.log.contains("stop requested over the control socket"), "\(daemon.log)")
                let after = try await daemon.appctl("ping")
                #expect(after.exited(3), "nothing answers any more: \(after)")
            }
        }

        // MARK: - appctl exit codes

        @Test("exit 1 for an unknown group, whatever the command, with the group named; nothing changes")
        func unknownGroupExitsOne() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "sleepers", count: 1)
                let commands: [[String]] = [
                    ["status", "nope"], ["reload", "nope"], ["restart", "nope"], ["stop", "--group", "nope"], ["start", "nope"],
                    ["scale", "nope", "2"], ["signal", "nope", "HUP"], ["logs", "nope"], ["connections", "nope"],
                ]
                for command in commands {
                    let result = try await daemon.appctl(arguments: ["--socket", daemon.controlSocket] + command)
                    #expect(result.exited(1), "\(command): \(result)")
                    #expect(result.stderr.hasPrefix("appctl: ") && result.stderr.contains("'nope'") && result.stderr.hasSuffix("(unknown_group)\n"),
                            "\(command): \(result)")
                }
                let json = try await daemon.appctl("stop", "nope", "--json")
                #expect(json.exited(1))
                #expect((try json.jsonObject()["error"] as? [String: Any])?["code"] as? String == "unknown_group", "\(json)")
                #expect(daemon.isRunning, "'stop nope' did not stop the daemon")
                #expect(daemon.children().inGroup("sleepers") == before)
            }
        }

        @Test("exit 1 for an aborted reload: the new version never gets ready; every old process keeps its pid; the group is degraded")
        func abortedReloadExitsOne() async throws {
            var spec = DaemonSpec(groups: [GroupSpec(name: "deploy", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "deploy", count: 2)
                // The "new version": waits for a READY=1 it never sends.
                spec.groups[0].readiness = .notify
                spec.groups[0].readyTimeout = 1
                try daemon.writeConfig(spec)

                let reload = try await daemon.appctl("reload", "deploy", timeout: 15)
                #expect(reload.exited(1), "\(reload)")
                #expect(reload.stderr.hasPrefix("appctl: reload aborted: deploy: "), "\(reload)")
                #expect(reload.stderr.contains("was not ready within 1s") && reload.stderr.hasSuffix("(reload_aborted)\n"), "\(reload)")
                #expect(reload.stdoutLines.first?.hasPrefix("deploy: reload aborted after 0 processes replaced: ") == true, "\(reload)")
                #expect(daemon.children().inGroup("deploy").first { $0.id == 1 } == before[1],
                        "the process the reload did not reach keeps serving under its pid")
                #expect(daemon.children().inGroup("deploy").first { $0.id == 0 } == before[0],
                        "the process whose successor failed was never touched")
                #expect(daemon.log.contains("rolling reload of group deploy aborted after 0 processes replaced"), "\(daemon.log)")
                let status = try await daemon.appctl("status", "deploy", "--json").jsonObject()
                #expect(Self.summaries(status).first?["state"] as? String == "degraded", "the reload failed: \(status)")
                #expect((Self.summaries(status).first?["reason"] as? String)?.contains("was not ready within 1s") == true, "\(status)")
                #expect(daemon.children().inGroup("deploy").map(\.pid) == before.map(\.pid), "both old processes keep serving")
            }
        }

        @Test("exit 2 for usage errors, with a message and nothing on stdout")
        func usageErrorsExitTwo() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                let mistakes: [[String]] = [
                    ["frobnicate"], ["scale", "sleepers"], ["scale", "sleepers", "-1"], ["signal", "sleepers", "BOGUS"],
                    ["status", "--grp", "sleepers"], ["status", "--watch", "0.01"], ["start"], ["ping", "extra"], ["logs", "--lines", "x"],
                ]
                for mistake in mistakes {
                    let result = try await daemon.appctl(arguments: ["--socket", daemon.controlSocket] + mistake)
                    #expect(result.exited(2), "\(mistake): \(result)")
                    #expect(result.stderr.hasPrefix("error: ") && result.stdout.isEmpty, "\(mistake): \(result)")
                }
            }
        }

        @Test("exit 3 when the daemon cannot be reached: the socket named, and why (no such file, refused)")
        func unreachableExitsThree() async throws {
            let directory = try TemporaryDirectory()
            var environment = ProcessInfo.processInfo.environment
            environment["APPCTL_SOCKET"] = nil
            let missing = directory.file("missing.sock")
            let noFile = try await CommandRunner.run(Binaries.appctl, ["--socket", missing, "ping"], environment: environment, in: directory)
            #expect(noFile.exited(3), "\(noFile)")
            #expect(noFile.stderr.contains(missing) && noFile.stderr.contains("no such file"), "\(noFile)")
            var fromEnvironment = environment
            fromEnvironment["APPCTL_SOCKET"] = missing
            let viaEnvironment = try await CommandRunner.run(Binaries.appctl, ["status"], environment: fromEnvironment, in: directory)
            #expect(viaEnvironment.exited(3) && viaEnvironment.stderr.contains(missing), "\(viaEnvironment)")

            // A stale socket file, as a daemon killed with SIGKILL leaves it: bound, nobody listening.
            let stale = directory.file("stale.sock")
            try Self.bindAndClose(stale)
            let refused = try await CommandRunner.run(Binaries.appctl, ["--socket", stale, "status", "--json"], environment: environment, in: directory)
            #expect(refused.exited(3), "\(refused)")
            #expect(refused.stderr.contains(stale) && refused.stderr.contains("refused"), "\(refused)")
            #expect(refused.stdout.isEmpty)
        }

        // MARK: - kill -USR1 and appctl reload

        @Test("kill -USR1 and appctl reload are interchangeable: the same log lines, the same effect")
        func signalAndAppctlReloadLogTheSame() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "rolling", command: Commands.sleepForever, count: 2),
                GroupSpec(name: "steady", command: Self.trapping("USR1"), count: 1, reloadable: false),
            ])
            try await withDaemon(spec) { daemon in
                let rolling = try await Self.workers(daemon, "rolling", count: 2)
                let steady = try await Self.trappedWorkers(daemon, "steady", count: 1)

                let signalStart = daemon.logLines.count
                daemon.signal(SIGUSR1)
                try await daemon.waitUntil("the reload by signal to finish") {
                    daemon.logLines.master.containing("rolling reload of group rolling done").count == 1
                }
                let bySignal = daemon.logLines.master.filter { $0.index >= signalStart }
                let afterSignal = try await Self.workers(daemon, "rolling", count: 2)
                #expect(Set(afterSignal.map(\.pid)).isDisjoint(with: rolling.map(\.pid)))
                // Two SIGUSR1s pending at once would be one: let the trap run first.
                try await daemon.waitUntil("the non-reloadable worker to log the first SIGUSR1") {
                    daemon.outputLines(of: steady[0]).contains("got USR1")
                }

                let appctlStart = daemon.logLines.count
                let reload = try await daemon.appctl("reload")
                #expect(reload.exited(0), "\(reload)")
                try await daemon.waitUntil("the reload by appctl to be logged as done") {
                    daemon.logLines.master.containing("rolling reload of group rolling done").count == 2
                }
                let byAppctl = daemon.logLines.master.filter { $0.index >= appctlStart }
                let afterAppctl = try await Self.workers(daemon, "rolling", count: 2)
                #expect(Set(afterAppctl.map(\.pid)).isDisjoint(with: afterSignal.map(\.pid)))
                #expect(daemon.children().inGroup("steady") == steady, "both times the non-reloadable worker was only signalled")
                try await daemon.waitUntil("the non-reloadable worker to log both SIGUSR1s") {
                    daemon.outputLines(of: steady[0]).filter { $0 == "got USR1" }.count == 2
                }

                func milestones(_ lines: [LogLine]) -> [String] {
                    Self.normalized(lines).filter { $0.contains("reload") }
                }
                let signalMilestones = milestones(bySignal)
                #expect(signalMilestones.first == "got SIGUSR1: reloading", "\(signalMilestones)")
                #expect(Array(signalMilestones.dropFirst()) == milestones(byAppctl), "the same reload lines either way")
                #expect(milestones(byAppctl) == [
                    "rolling reload of group rolling begins (start-first, N at a time)",
                    "group steady is not reloadable: sent SIGUSR1 to N process",
                    "worker rolling#N[N] killed by SIGTERM after Ns (reload)",
                    "worker rolling#N[N] killed by SIGTERM after Ns (reload)",
                    "rolling reload of group rolling done: N processes replaced",
                ], "\(milestones(byAppctl))")
                #expect(Self.normalized(Array(bySignal.dropFirst())) == Self.normalized(byAppctl),
                        "every master line the same but for pids and times:\n\(bySignal)\n---\n\(byAppctl)")
            }
        }

        // MARK: - Raw socket clients

        @Test("raw client: malformed JSON, unknown command, unknown group, an unknown member each get their error; the connection goes on")
        func badRequestsGetTheirErrors() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                let client = try daemon.controlClient()
                try client.send("hello")
                let malformed = try #require(try client.nextReply())
                #expect(malformed.hasNullID && !malformed.ok && malformed.done && malformed.errorCode == "bad_request", "\(malformed)")

                try client.send("[1, 2]")
                let notAnObject = try #require(try client.nextReply())
                #expect(notAnObject.hasNullID && notAnObject.errorCode == "bad_request", "\(notAnObject)")

                try client.send(json: ["id": 7, "cmd": "stats"])
                let unknownCommand = try #require(try client.nextReply())
                #expect(unknownCommand.id == 7 && unknownCommand.errorCode == "unknown_command" && unknownCommand.done, "\(unknownCommand)")
                #expect(unknownCommand.errorMessage?.contains("stats") == true)

                try client.send(json: ["id": 8, "cmd": "status", "group": "nope"])
                let unknownGroup = try #require(try client.nextReply())
                #expect(unknownGroup.id == 8 && unknownGroup.errorCode == "unknown_group" && unknownGroup.done, "\(unknownGroup)")
                #expect(unknownGroup.errorMessage?.contains("nope") == true)

                // A typo must not stop the whole daemon.
                try client.send(json: ["id": 9, "cmd": "stop", "grop": "sleepers"])
                let typo = try #require(try client.nextReply())
                #expect(typo.id == 9 && typo.errorCode == "bad_request" && typo.errorMessage?.contains("grop") == true, "\(typo)")

                try client.send(json: ["id": 10, "cmd": "ping"])
                let pong = try #require(try client.nextReply())
                #expect(pong.id == 10 && pong.ok && pong.done && pong.result?["pong"] as? Bool == true, "the connection still works: \(pong)")
                #expect(daemon.isRunning)
                #expect(daemon.children().inGroup("sleepers").count == 1)
            }
        }

        @Test("raw client: a line of exactly 1 MiB is served; one byte more gets too_large (id null) and the connection is closed")
        func oversizedLineIsRefusedAndClosed() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                let limit = LineFramer.protocolLineLimit
                #expect(limit == 1_048_576)
                func padded(_ length: Int) -> [UInt8] {
                    let request = Array(#"{"id": 1, "cmd": "ping"}"#.utf8)
                    return request + [UInt8](repeating: UInt8(ascii: " "), count: length - request.count) + [UInt8(ascii: "\n")]
                }
                let atLimit = try daemon.controlClient()
                #expect(try atLimit.write(padded(limit)) == limit + 1)
                let pong = try #require(try atLimit.nextReply())
                #expect(pong.id == 1 && pong.ok && pong.done, "a 1 MiB line is within the limit: \(pong)")

                let overLimit = try daemon.controlClient()
                try overLimit.write(padded(limit + 1))  // The daemon may close before taking it all.
                let refused = try #require(try overLimit.nextReply())
                #expect(refused.hasNullID && refused.errorCode == "too_large" && refused.done, "\(refused)")
                let rest = try overLimit.drainToEnd()
                #expect(rest.bytes == 0, "nothing after too_large")
                #expect(overLimit.ending != nil, "the connection was closed")

                // Also when the newline never comes: the daemon stops reading at the limit.
                let endless = try daemon.controlClient()
                try endless.write([UInt8](repeating: UInt8(ascii: "x"), count: limit + 4096))
                let refusedEndless = try #require(try endless.nextReply())
                #expect(refusedEndless.errorCode == "too_large", "\(refusedEndless)")
                #expect(try endless.drainToEnd().bytes == 0)

                #expect(try await daemon.appctl("ping").exited(0))
            }
        }

        @Test("raw client: pipelined requests on one connection are each answered under their own id")
        func pipelinedRequestsKeepTheirIDs() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let workers = try await Self.workers(daemon, "sleepers", count: 2)
                let client = try daemon.controlClient()
                // One write, three requests.
                try client.send(#"{"id": 21, "cmd": "status"}"# + "\n" + #"{"id": 22, "cmd": "ping"}"# + "\n" + #"{"id": 23, "cmd": "version"}"#)
                var replies: [ControlReplyLine] = []
                while Set(replies.filter(\.done).compactMap(\.id)) != [21, 22, 23] {
                    replies.append(try #require(try client.nextReply(), "the connection ended early: \(replies)"))
                }
                #expect(replies.allSatisfy { [21, 22, 23].contains($0.id ?? -1) }, "\(replies)")
                let status = replies.filter { $0.id == 21 }
                #expect(status.map { $0.itemType ?? "done" } == ["master", "process", "process", "done"], "\(status)")
                let statusPids: [Int] = status.compactMap { int($0.item?["pid"]) }
                #expect(Set(statusPids).isSuperset(of: workers.map { Int($0.pid) }), "\(status)")
                #expect(replies.first { $0.id == 22 && $0.done }?.result?["pong"] as? Bool == true)
                #expect(replies.first { $0.id == 23 && $0.done }?.result?["version"] as? String == AppdVersion.current)
            }
        }

        @Test("raw clients that connect and say nothing (or half a line) do not hold anyone up; supervision goes on")
        func silentClientsBlockNobody() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "sleepers", count: 2)
                let silent = try (0..<5).map { _ in try daemon.controlClient() }
                let halfLine = try daemon.controlClient()
                try halfLine.write(Array(#"{"id": 1, "cmd": "sta"#.utf8))

                let ping = try await daemon.appctl("ping")
                #expect(ping.exited(0), "\(ping)")
                let status = try await daemon.appctl("status", "--json")
                #expect(status.exited(0), "\(status)")
                kill(before[1].pid, SIGKILL)
                let replacement = try await daemon.waitFor(timeout: 5, "sleepers#1 respawned while the silent clients wait") {
                    daemon.children().inGroup("sleepers").first { $0.id == 1 && $0.pid != before[1].pid }
                }
                #expect(daemon.children().inGroup("sleepers") == [before[0], replacement])
                // Their connections are still open (idle clients are only dropped after 30 s) and still work.
                #expect(silent.allSatisfy { !$0.peerHasClosed() })
                try halfLine.send(#"tus"}"#)
                let answered = try halfLine.replies(untilDoneFor: 1)
                #expect(answered.last?.ok == true && answered.last?.result?["processes"] != nil, "\(answered)")
                try silent[0].send(json: ["id": 2, "cmd": "ping"])
                #expect(try silent[0].nextReply()?.result?["pong"] as? Bool == true)
            }
        }

        @Test("a raw client that asks for status --watch 0.1 and never reads is dropped at 4 MiB; another watcher, ping and supervision go on")
        func clientThatNeverReadsIsDropped() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "many", command: Commands.sleepForever, count: 50)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "many", count: 50)
                let sockets = daemon.masterSocketCount
                let hog = try daemon.controlClient(receiveBuffer: 4096)
                // Several watches on the one connection (distinct ids, as the
                // protocol allows) fill the 4 MiB sooner than a single one would.
                for id in 1...Self.hogWatches { try hog.send(json: ["id": id, "cmd": "status", "watch": 0.1]) }
                // An operator's `appctl status --watch`, started after the hog's watches.
                let watcher = try daemon.startAppctl("status", "--watch", "0.1", "--json")
                defer { watcher.stop() }
                try await daemon.waitUntil("the operator's watch to print a snapshot") { watcher.stdout.contains("\n") }

                var pings = 0
                var slowest = 0.0
                let deadline = ContinuousClock.now + .seconds(30)
                var victim: WorkerProcess?
                while !daemon.log.contains("dropped control client"), daemon.isRunning {
                    if ContinuousClock.now > deadline {
                        throw WaitTimedOut(what: "the client that does not read to be dropped", seconds: 30,
                                           location: #_sourceLocation, context: daemon.diagnostics)
                    }
                    let sent = ContinuousClock.now
                    let ping = try await daemon.appctl("ping", timeout: 5)
                    slowest = max(slowest, (ContinuousClock.now - sent) / .seconds(1))
                    #expect(ping.exited(0), "ping while the hog's buffer fills: \(ping)")
                    pings += 1
                    if pings == 2, victim == nil {
                        victim = before[7]
                        kill(before[7].pid, SIGKILL)
                    }
                }
                try await daemon.waitUntil(timeout: 2, "appd to be running still, having dropped the client") {
                    try Self.requireRunning(daemon)
                    return daemon.log.contains("dropped control client")
                }
                #expect(pings >= 1)
                // Each ping was answered within appctl's 5 s; within 2 s is a
                // latency bound, not checked under ASan or TSan (see LatencyBounds).
                if LatencyBounds.checked("the slowest of \(pings) pings took \(slowest)s") {
                    #expect(slowest < 2, "a ping took \(slowest)s while the daemon served the hog")
                }
                let dropped = try #require(daemon.logLines.master.first(containing: "dropped control client"))
                #expect(dropped.message.contains("it is not reading its replies"), "\(dropped)")
                #expect(hog.peerHasClosed(within: 5), "the hog's socket is hung up on, seen without reading")
                let drained = try hog.drainToEnd()
                #expect(drained.bytes < 8 << 20, "what was left in the socket buffers, then the end (\(drained))")

                let snapshotsAtDrop = watcher.stdout.split(separator: "\n").count
                try await daemon.waitUntil("the operator's watch to go on after the drop") {
                    try Self.requireRunning(daemon)
                    return watcher.stdout.split(separator: "\n").count >= snapshotsAtDrop + 3
                }
                if let victim {
                    try await daemon.waitUntil(timeout: 5, "many#7 respawned") {
                        daemon.children().inGroup("many").contains { $0.id == victim.id && $0.pid != victim.pid }
                    }
                }
                #expect(try await daemon.appctl("ping").exited(0))
                watcher.stop()
                try await daemon.waitUntil("the daemon to let go of every connection") { daemon.masterSocketCount == sockets }
            }
        }

        @Test("200 raw clients ask for status at once: every one gets a complete answer, while a kill -9'd child is respawned")
        func twoHundredClientsAndAKill() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 4)])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "sleepers", count: 4)
                let sockets = daemon.masterSocketCount
                let clients = try (0..<200).map { _ in try daemon.controlClient() }
                let victim = before[2]
                let killedAt = try Self.sendStatusRequests(to: clients) { kill(victim.pid, SIGKILL) }
                let complete = try Self.checkCompleteStatusReplies(from: clients, processes: 4)
                #expect(complete == 200)
                let replacement = try await daemon.waitFor(timeout: 5, "sleepers#2 respawned after its kill -9") {
                    daemon.children().inGroup("sleepers").first { $0.id == victim.id && $0.pid != victim.pid }
                }
                let respawnedIn = (ContinuousClock.now - killedAt) / .seconds(1)
                #expect(ProcFS.parent(of: replacement.pid) == daemon.pid)
                #expect(respawnedIn < 5)
                try await daemon.waitUntil("the daemon to close the 200 connections") { daemon.masterSocketCount == sockets }
            }
        }

        @Test("a second reload of a group already reloading gets busy: appctl exits 1, a raw client gets the code; the first completes")
        func secondReloadIsBusy() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "slowready", command: Commands.sleepForever, count: 2, readiness: .afterSeconds(1)),
            ])
            try await withDaemon(spec) { daemon in
                let before = try await Self.workers(daemon, "slowready", count: 2)
                let first = try daemon.startAppctl("reload", "slowready")
                defer { first.stop() }
                try await daemon.waitUntil("the first reload to begin") { daemon.log.contains("rolling reload of group slowready begins") }

                let second = try await daemon.appctl("reload", "slowready")
                #expect(second.exited(1), "\(second)")
                #expect(second.stderr.contains("slowready") && second.stderr.hasSuffix("(busy)\n"), "\(second)")
                let raw = try daemon.controlClient()
                try raw.send(json: ["id": 5, "cmd": "reload"])
                let busy = try #require(try raw.nextReply())
                #expect(busy.id == 5 && busy.errorCode == "busy" && busy.done, "a reload of every group includes the busy one: \(busy)")
                #expect(first.child.isRunning, "the first reload is still going: the refusals were not a race")

                let done = try await first.wait(timeout: 15)
                #expect(done.exited(0), "\(done)")
                #expect(done.stdoutLines.compactMap(Self.progressLine).map(\.oldPid) == before.map(\.pid), "\(done)")
                #expect(done.stdoutLines.contains("slowready: reloaded, 2 processes replaced"), "\(done)")
                #expect(daemon.log.components(separatedBy: "rolling reload of group slowready begins").count == 2, "one reload ran")
            }
        }

        @Test("a reload's stream carries its own request's outcomes only, not those of a later reload of another group")
        func reloadStreamsDoNotMix() async throws {
            try await withDaemon(Self.twoReloadsSpec) { daemon in
                _ = try await Self.workers(daemon, "slow", count: 2)
                _ = try await Self.trappedWorkers(daemon, "signalled", count: 1)
                let everything = try daemon.controlClient()
                try everything.send(json: ["id": 1, "cmd": "reload"])
                let first = try #require(try everything.nextReply())
                #expect(first.itemType == "reloaded" && first.item?["group"] as? String == "signalled", "\(first)")

                // While `slow` still rolls, someone reloads the other group on its own.
                let other = try await daemon.appctl("reload", "signalled")
                #expect(other.exited(0), "\(other)")

                let rest = try everything.replies(untilDoneFor: 1, timeout: 15)
                let outcomes = ([first] + rest).filter { $0.itemType == "reloaded" }.compactMap { $0.item?["group"] as? String }
                #expect(outcomes.sorted() == ["signalled", "slow"], "one outcome per group this request reloaded: \(([first] + rest).map(\.line))")
                #expect(int(rest.last?.result?["groups"]) == 2, "\(rest.last?.line ?? "no final line")")
            }
        }

        @Test("a client that shuts down reading while its reload streams is dropped; a reload of another group then works and appd lives")
        func reloadClientThatStopsReadingIsDropped() async throws {
            try await withDaemon(Self.twoReloadsSpec) { daemon in
                let slow = try await Self.workers(daemon, "slow", count: 2)
                _ = try await Self.trappedWorkers(daemon, "signalled", count: 1)
                let quitter = try daemon.controlClient()
                try quitter.send(json: ["id": 1, "cmd": "reload"])
                let first = try #require(try quitter.nextReply())
                #expect(first.itemType == "reloaded", "\(first)")
                quitter.shutDownReading()  // Reads no more, and the daemon is not told.

                let other = try await daemon.appctl("reload", "signalled")
                if !other.exited(0) {
                    // A crashing appd takes a moment to print its backtrace and go: report that, not just the symptom.
                    _ = try? await daemon.waitFor(timeout: 2, "appd to end") { daemon.isRunning ? nil : true }
                    try Self.requireRunning(daemon)
                }
                #expect(other.exited(0), "\(other)")
                try await daemon.waitUntil(timeout: 10, "the reload of slow to finish in the background") {
                    try Self.requireRunning(daemon)
                    return daemon.log.contains("rolling reload of group slow done: 2 processes replaced")
                }
                #expect(Set(daemon.children().inGroup("slow").map(\.pid)).isDisjoint(with: slow.map(\.pid)))
                #expect(try await daemon.appctl("ping").exited(0))
            }
        }

        /// `slow` rolls for about 2 s; `signalled` is not reloadable, so its
        /// reload is over at once.
        static let twoReloadsSpec = DaemonSpec(groups: [
            GroupSpec(name: "slow", command: Commands.sleepForever, count: 2, readiness: .afterSeconds(1)),
            GroupSpec(name: "signalled", command: trapping("USR1"), count: 1, reloadable: false),
        ])

        // MARK: - The documented Python client

        @Test("the Python client in docs/PROTOCOL.md, as written, runs status and reload against the real daemon")
        func documentedPythonClientDrivesTheDaemon() async throws {
            let python = try #require(Self.executableInPath("python3"), "python3 is needed to run the documented client")
            let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/PROTOCOL.md")
            let text = try String(contentsOf: doc, encoding: .utf8)
            let start = try #require(text.range(of: "```python\n"), "docs/PROTOCOL.md has no python block")
            let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
            let client = String(text[start.upperBound..<end.lowerBound]) + "\n"

            let spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.sleepForever, count: 2, readiness: GroupSpec.Readiness.none),
                GroupSpec(name: "queue", command: Commands.sleepForever, count: 1, readiness: GroupSpec.Readiness.none),
            ])
            try await withDaemon(spec) { daemon in
                let web = try await Self.workers(daemon, "web", count: 2)
                let script = daemon.directory.file("appd_client.py")
                try client.write(toFile: script, atomically: false, encoding: .utf8)
                func run(_ arguments: String...) async throws -> CommandResult {
                    try await CommandRunner.run(python, [script, daemon.controlSocket] + arguments, environment: daemon.environment,
                                                in: daemon.directory, timeout: 20)
                }

                // `python3 appd_client.py SOCKET status '{"group": "web"}'`, as the doc shows.
                let status = try await run("status", #"{"group": "web"}"#)
                #expect(status.exited(0), "\(status)")
                let lines = status.stdoutLines
                #expect(lines.count == 4, "master, two processes, the result: \(status)")
                #expect(lines.first?.contains("'type': 'master'") == true && Self.pythonInt(lines.first, "pid") == Int(daemon.pid), "\(status)")
                let processes = lines.filter { $0.contains("'type': 'process'") }
                #expect(processes.map { Self.pythonInt($0, "pid") } == web.map { Int($0.pid) }, "\(processes) vs \(web)")
                #expect(processes.allSatisfy { $0.contains("'group': 'web'") && $0.contains("'state': 'running'") })
                #expect(lines.last == "{'processes': 2}", "\(status)")

                let reload = try await run("reload", #"{"group": "web"}"#)
                #expect(reload.exited(0), "\(reload)")
                let replaced = reload.stdoutLines.filter { $0.contains("'type': 'replaced'") }
                #expect(replaced.map { Self.pythonInt($0, "oldPid") } == web.map { Int($0.pid) }, "\(reload)")
                #expect(reload.stdoutLines.contains { $0.contains("'type': 'reloaded'") && $0.contains("'outcome': 'completed'") }, "\(reload)")
                #expect(reload.stdoutLines.last == "{'groups': 1}", "\(reload)")
                let newPids = replaced.compactMap { Self.pythonInt($0, "newPid") }
                try await daemon.waitUntil("the pids the client was told in /proc") {
                    daemon.children().inGroup("web").map { Int($0.pid) } == newPids
                }

                // An error reply is raised with its code.
                let failed = try await run("status", #"{"group": "nope"}"#)
                #expect(failed.exitedWithFailure && failed.stderr.contains("RuntimeError: unknown_group: "), "\(failed)")
            }
        }

        // MARK: - Helpers

        /// Sends `status` (id = index) on every connection, all before any
        /// reply is read; half-way through, `midway` runs (a kill -9). Returns
        /// when it ran.
        static func sendStatusRequests(to clients: [ControlSocketClient], midway: () -> Void) throws -> ContinuousClock.Instant {
            var ranAt = ContinuousClock.now
            for (index, client) in clients.enumerated() {
                try client.send(json: ["id": index, "cmd": "status"])
                if index == clients.count / 2 {
                    midway()
                    ranAt = .now
                }
            }
            return ranAt
        }

        /// Reads every client's replies to its `status` to the done line,
        /// checks each is complete, closes it; returns how many were.
        static func checkCompleteStatusReplies(from clients: [ControlSocketClient], processes expected: Int) throws -> Int {
            var complete = 0
            for (index, client) in clients.enumerated() {
                let replies = try client.replies(untilDoneFor: index, timeout: 15)
                client.close()
                let processes = replies.filter { $0.itemType == "process" }
                let whole = replies.allSatisfy { $0.id == index && $0.ok } && replies.first?.itemType == "master"
                    && int(replies.last?.result?["processes"]) == processes.count && processes.count == expected
                #expect(whole, "client \(index): \(replies)")
                if whole { complete += 1 }
            }
            return complete
        }

        /// Watch requests the non-reading client sends on its one connection.
        static let hogWatches = 20

        /// A shell that traps `signal`, says `trapped` once it has, then
        /// prints `got <signal>` each time it gets it.
        static func trapping(_ signal: String) -> [String] {
            ["/bin/sh", "-c", "trap 'echo got \(signal)' \(signal); echo trapped; while :; do sleep 0.1; done"]
        }

        /// A shell that takes 0.3 s to exit after SIGTERM.
        static let slowToStop = ["/bin/sh", "-c", "trap 'sleep 0.3; exit 0' TERM; echo trapped; while :; do sleep 0.1; done"]

        /// Waits for ids 0..<count of a group in /proc.
        static func workers(_ daemon: DaemonUnderTest, _ group: String, count: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) async throws -> [WorkerProcess] {
            try await daemon.waitFor("\(group): ids 0..<\(count)", sourceLocation: sourceLocation) {
                let workers = daemon.children().inGroup(group)
                return workers.map(\.id) == Array(0..<count) ? workers : nil
            }
        }

        /// Waits for ids 0..<count of a group of `trapping` shells, each having set its trap.
        static func trappedWorkers(_ daemon: DaemonUnderTest, _ group: String, count: Int,
                                   sourceLocation: SourceLocation = #_sourceLocation) async throws -> [WorkerProcess] {
            try await daemon.waitFor("\(group): ids 0..<\(count), traps set", sourceLocation: sourceLocation) {
                let workers = daemon.children().inGroup(group)
                guard workers.map(\.id) == Array(0..<count) else { return nil }
                return workers.allSatisfy { daemon.outputLines(of: $0).contains("trapped") } ? workers : nil
            }
        }

        /// A `process` object of status --json as a WorkerProcess.
        static func worker(_ process: [String: Any]) -> WorkerProcess {
            WorkerProcess(pid: Int32(int(process["pid"]) ?? -1), group: process["group"] as? String ?? "?", id: int(process["id"]) ?? -1)
        }

        static func summaries(_ status: [String: Any]) -> [[String: Any]] {
            ((status["master"] as? [String: Any])?["groupSummaries"] as? [[String: Any]]) ?? []
        }

        /// `group#id[OLD] → group#id[NEW]`, appctl reload's progress line.
        static func progressLine(_ line: String) -> (id: Int, oldPid: Int32, newPid: Int32)? {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 3, parts[1] == "→", let old = worker(parts[0]), let new = worker(parts[2]), old.id == new.id
            else { return nil }
            return (old.id, old.pid, new.pid)
        }

        /// `group#id[pid]` → (id, pid).
        static func worker(_ text: Substring) -> (id: Int, pid: Int32)? {
            guard let hash = text.lastIndex(of: "#"), let open = text.lastIndex(of: "["), text.last == "]",
                  let id = Int(text[text.index(after: hash)..<open]), let pid = Int32(text[text.index(after: open)..<text.index(before: text.endIndex)])
            else { return nil }
            return (id, pid)
        }

        /// Fails the wait at once, with appd's output (a crash's backtrace), when appd is gone.
        static func requireRunning(_ daemon: DaemonUnderTest) throws {
            guard daemon.isRunning else { throw DaemonDied(output: daemon.output) }
        }

        struct DaemonDied: Error, CustomStringConvertible {
            var output: String
            var description: String { "appd is not running any more; its output:\n\(output)" }
        }

        /// Master log lines with every number (pids, ids, durations; not the 1 of SIGUSR1) replaced by N.
        static func normalized(_ lines: [LogLine]) -> [String] {
            lines.map { $0.message.replacingOccurrences(of: "(?<![A-Za-z0-9.])[0-9]+(\\.[0-9]+)?", with: "N", options: .regularExpression) }
        }

        /// `'key': 123` in a line Python printed from a dict.
        static func pythonInt(_ line: String?, _ key: String) -> Int? {
            guard let line, let range = line.range(of: "'\(key)': ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }

        static func executableInPath(_ name: String) -> String? {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }

        /// Leaves a socket file nobody listens on.
        static func bindAndClose(_ path: String) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SyscallError.last("socket") }
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw SyscallError.last("bind(\(path))") }
        }
    }
}

/// A JSON number as an Int (JSONSerialization gives NSNumber).
private func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
