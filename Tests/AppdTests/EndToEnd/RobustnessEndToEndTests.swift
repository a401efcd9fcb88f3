import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// Orderings a code review found mishandled: a half-closed client, a
    /// reload signal during a reload, a stop overtaken by a start, a refused
    /// reload that had bound a socket, a reload of one group, and what a
    /// worker forked outliving the worker and then the master.
    @Suite("appd under awkward orderings", .serialized)
    struct RobustnessEndToEndTests {
        /// A group whose reload takes a while: each replacement counts as
        /// ready only after 0.5 s.
        static let slowGroup = GroupSpec(name: "slow", command: Commands.sleepForever, count: 2, readiness: .afterSeconds(0.5))

        @Test("a client that half-closes after its requests (printf | nc -U) still gets every reply")
        func halfClosedClientGetsItsReplies() async throws {
            try await withDaemon(DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])) { daemon in
                let client = try daemon.controlClient()
                try client.send(#"{"id":1,"cmd":"ping"}"#)
                try client.send(#"{"id":2,"cmd":"status"}"#)
                _ = shutdown(client.fd, Int32(SHUT_WR))
                let ping = try client.replies(untilDoneFor: 1)
                #expect(ping.last?.result?["pong"] as? Bool == true, "\(ping)")
                let status = try client.replies(untilDoneFor: 2)
                #expect(status.last?.done == true && status.last?.ok == true, "\(status)")
                #expect(client.peerHasClosed(within: 5), "the daemon closes once it owes the client nothing")
            }
        }

        @Test("100 pipelined scale requests then a half-close: all 100 answered; a last request without its newline is answered too")
        func everyPipelinedRequestIsAnsweredAfterAHalfClose() async throws {
            try await withDaemon(DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])) { daemon in
                let client = try daemon.controlClient()
                var text = ""
                for id in 1...100 { text += #"{"id":\#(id),"cmd":"scale","group":"sleepers","count":\#(id % 2 + 1)}"# + "\n" }
                text += #"{"id":101,"cmd":"ping"}"#  // no newline: EOF ends it
                _ = try client.write(Array(text.utf8))
                _ = shutdown(client.fd, Int32(SHUT_WR))
                var answered = Set<Int>()
                while let reply = try client.nextReply(), answered.count < 101 {
                    if reply.done, let id = reply.object["id"] as? Int {
                        #expect(reply.ok, "\(reply)")
                        answered.insert(id)
                    }
                }
                #expect(answered == Set(1...101), "missing: \(Set(1...101).subtracting(answered).sorted())")
                #expect(client.peerHasClosed(within: 5), "closed once everything is answered")
            }
        }

        @Test("appd's stderr is a pipe nobody reads while a worker floods its output: ping answers, SIGTERM stops it")
        func aStalledLogReaderBlocksNothing() async throws {
            let spec = DaemonSpec(stopTimeout: 1, groups: [
                GroupSpec(name: "flood", command: ["/usr/bin/yes", "a line of output nobody will read"], count: 1),
            ])
            try await withDaemon(spec, start: false) { daemon in
                // The daemon logs to stderr, a FIFO whose reader never reads:
                // its 64 KiB fill in a moment, and a write would then block.
                try daemon.writeConfigText(spec.render(controlSocket: daemon.controlSocket, pidFile: daemon.pidFile,
                                                       statusFile: daemon.statusFile, logFile: "-"))
                let fifo = daemon.directory.file("stderr.fifo")
                guard mkfifo(fifo, 0o600) == 0 else { throw SyscallError.last("mkfifo") }
                let reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                guard reader >= 0 else { throw SyscallError.last("open(\(fifo))") }
                defer { close(reader) }
                try await daemon.start(stderr: fifo)
                try await daemon.waitUntil("the flood to fill the pipe") {
                    var size: Int32 = 0
                    return ioctl(reader, UInt(FIONREAD), &size) == 0 && size >= 60_000
                }
                for _ in 0..<5 {
                    let ping = try await daemon.appctl("ping")
                    #expect(ping.exited(0), "\(ping)")
                }
                daemon.signal(SIGTERM)
                let ended = try await daemon.waitForExit(timeout: 8)
                #expect(ended?.exited == true && ended?.code == 0, "appd stopped cleanly: \(String(describing: ended))")
            }
        }

        @Test("a command that forks a sleep and exits, restarted 50 times: what it leaves is stopped, processes and master fds stay flat")
        func whatAWorkerLeavesBehindIsStopped() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "forker", command: ["/bin/sh", "-c", "sleep 1000 & exit 0"], count: 1, readiness: GroupSpec.Readiness.none),
            ])
            try await withDaemon(spec) { daemon in
                func fds() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd").count) ?? 0 }
                func exits() -> Int {
                    daemon.logLines.master.filter { $0.message.hasPrefix("worker forker#0[") && $0.message.contains("exited 0") }.count
                }
                try await daemon.waitUntil("a first exit") { exits() >= 1 }
                let baseline = fds()
                var peakDescendants = 0
                // A quick exit backs off (0.1 s doubling); `restart` starts the
                // id again at once, after what the last process left is gone,
                // so 50 restarts take seconds, not the backoff's minutes.
                let client = try daemon.controlClient()
                for round in 1...50 {
                    try client.send(#"{"id":\#(round),"cmd":"restart","group":"forker"}"#)
                    let reply = try client.replies(untilDoneFor: round, timeout: 10)
                    #expect(reply.last?.ok == true, "restart \(round): \(reply)")
                    try await daemon.waitUntil("exit \(round + 1)") { exits() >= round + 1 }
                    peakDescendants = max(peakDescendants, daemon.descendants().count)
                }
                #expect(daemon.log.contains("but processes of its process group still run; sending them SIGTERM"), "\(daemon.log)")
                // The sh and its sleep, or the next run's: never one sleep per run.
                #expect(peakDescendants <= 3, "at most \(peakDescendants) processes under appd at once over 50 restarts")
                // Each run's sleep was stopped: at most the latest run's is left.
                try await daemon.waitUntil("the sleeps left behind to be stopped") { daemon.descendants().count <= 2 }
                #expect(fds() <= baseline + 3, "master fds \(fds()) after 50 restarts against \(baseline) after the first exit")
            }
        }

        @Test("what a worker leaves that ignores its stop signal is SIGKILLed after stopTimeout before the worker's next process starts")
        func theNextProcessWaitsForWhatTheLastLeft() async throws {
            var stubborn = GroupSpec(name: "stubborn", command: ["/bin/sh", "-c", "trap '' TERM; sleep 1000 & exit 0"], count: 1,
                                     readiness: GroupSpec.Readiness.none)
            stubborn.stopTimeout = 1
            try await withDaemon(DaemonSpec(groups: [stubborn])) { daemon in
                try await daemon.waitUntil(timeout: 20, "three starts") { Self.starts(in: daemon.logLines.master).count >= 3 }
                let lines = daemon.logLines.master
                let kills = lines.indices.filter { lines[$0].message.contains("processes left by worker stubborn#0[") && lines[$0].message.contains("sending SIGKILL") }
                let started = Self.starts(in: lines)
                // The sleep ignores SIGTERM, so it goes only with the SIGKILL
                // after stopTimeout; each next start comes after that kill.
                let startsWithoutAKillBefore = Self.startsWithoutAKillBefore(started: started, kills: kills)
                #expect(startsWithoutAKillBefore.isEmpty, "starts at log lines \(startsWithoutAKillBefore) came before a SIGKILL:\n\(daemon.log)")
                #expect(daemon.log.contains("worker stubborn#0 starts once the processes its last process left in its process group have stopped"),
                        "\(daemon.log)")
            }
        }

        /// Each start but the first that no SIGKILL precedes since the start before it.
        static func startsWithoutAKillBefore(started: [Int], kills: [Int]) -> [Int] {
            zip(started, started.dropFirst()).compactMap { previous, next in
                kills.contains { $0 > previous && $0 < next } ? nil : next
            }
        }

        /// Where the log says a process of stubborn#0 started.
        static func starts(in lines: [LogLine]) -> [Int] {
            lines.indices.filter { lines[$0].message.hasPrefix("worker stubborn#0[") && lines[$0].message.hasSuffix("] started") }
        }

        @Test("a worker flooding its output gets outputBytesPerSecond into the log, and a marker counting what was dropped")
        func floodingOutputIsCapped() async throws {
            var flood = GroupSpec(name: "flood", command: ["/usr/bin/yes", "a line of output"], count: 1)
            flood.outputBytesPerSecond = 20_000
            try await withDaemon(DaemonSpec(groups: [flood])) { daemon in
                let started = Date()
                try await daemon.waitUntil("a marker of dropped lines") {
                    daemon.log.contains("lines of output dropped, over its limit of 19.5 KiB/s (outputBytesPerSecond)")
                }
                try await daemon.waitUntil("two seconds of flooding") { Date().timeIntervalSince(started) >= 2 }
                let kept = daemon.logLines.filter { $0.source.hasPrefix("flood#0[") }.count
                let seconds = Date().timeIntervalSince(started) + 1
                // A line costs at least 256 bytes of the budget: about 80 a second.
                #expect(kept <= Int(seconds * 20_000 / 256) + 80, "\(kept) lines kept in \(seconds) s")
                #expect(try await daemon.appctl("ping").exited(0))
            }
        }

        @Test("a reload signal during a reload is not lost: it runs when the first one ends")
        func reloadSignalDuringAReloadIsQueued() async throws {
            try await withDaemon(DaemonSpec(groups: [Self.slowGroup])) { daemon in
                let first = try await daemon.waitFor("both workers") { () -> [Int32]? in
                    let pids = daemon.children().map(\.pid)
                    return pids.count == 2 ? pids : nil
                }
                daemon.signal(SIGUSR1)
                try await daemon.waitUntil("the first reload to begin") { daemon.log.contains("rolling reload of group slow begins") }
                daemon.signal(SIGHUP)
                try await daemon.waitUntil("the second signal to be queued") { daemon.log.contains("the new reload follows when it ends") }
                try await daemon.waitUntil(timeout: 15, "both reloads to finish") {
                    daemon.log.components(separatedBy: "rolling reload of group slow done").count - 1 == 2
                }
                #expect(daemon.log.contains("starting the reload asked for during the previous one"))
                #expect(daemon.log.components(separatedBy: "rolling reload of group slow begins").count - 1 == 2)
                #expect(Set(daemon.children().map(\.pid)).isDisjoint(with: first))
            }
        }

        @Test("appctl stop --group returns an error when a start overtakes the stop")
        func stopOvertakenByStartEnds() async throws {
            var stubborn = GroupSpec(name: "stubborn", command: Commands.demo("ignore-term"), count: 1)
            stubborn.stopTimeout = 2  // long enough to overtake; short for teardown
            try await withDaemon(DaemonSpec(groups: [stubborn])) { daemon in
                // Its first line is printed once it catches SIGTERM: a stop
                // sent before would end it (under TSan one was killed by
                // SIGTERM 5 ms after it started).
                try await daemon.waitUntil("the worker to catch SIGTERM") {
                    daemon.logLines.contains { $0.source.hasPrefix("stubborn#0[") && $0.message.hasSuffix("only SIGKILL ends it") }
                }
                let stop = try daemon.startAppctl("stop", "--group", "stubborn")
                defer { stop.stop() }
                // The worker's own line on getting SIGTERM (its STATUS= at start-up says "ignoring SIGTERM" too).
                try await daemon.waitUntil("the worker to ignore the stop signal") {
                    daemon.logLines.contains { $0.source.hasPrefix("stubborn#0[") && $0.message == "ignoring SIGTERM" }
                }
                let start = try await daemon.appctl("start", "stubborn")
                #expect(start.exited(0), "\(start)")
                let stopped = try await stop.wait(timeout: 5)
                #expect(stopped.exited(1), "\(stopped)")
                #expect(stopped.stderr.contains("overtaken"), "\(stopped)")
            }
        }

        @Test("a reload refused as busy leaves no new listening socket behind")
        func refusedReloadUnbindsNewSockets() async throws {
            // Slower than slowGroup: the first reload must still be under way
            // when the second appctl reaches the daemon. With 0.5 s a slot it
            // was over in about a second, and on a loaded machine (under ASan,
            // load 8 on two cores) the second reload came after it and ran.
            var slower = Self.slowGroup
            slower.readiness = .afterSeconds(3)
            let spec = DaemonSpec(groups: [slower])
            try await withDaemon(spec) { daemon in
                let port = try FreePort.tcp()
                var withListener = spec
                withListener.groups[0].listen = ["tcp://127.0.0.1:\(port)"]
                let reloading = try daemon.startAppctl("reload", "--group", "slow")
                defer { reloading.stop() }
                try await daemon.waitUntil("the first reload to begin") { daemon.log.contains("rolling reload of group slow begins") }
                try daemon.writeConfig(withListener)
                let refused = try await daemon.appctl("reload")
                #expect(refused.exited(1) && refused.stderr.contains("already reloading"), "\(refused)")
                #expect(!Self.acceptsConnections(port: port), "port \(port) still accepts connections after the refused reload")
                #expect(try await reloading.wait(timeout: 15).exited(0))
            }
        }

        @Test("reload --group applies only that group's entry of the re-read config")
        func reloadOfOneGroupAppliesOnlyIt() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "a", command: Commands.sleepForever, count: 1),
                GroupSpec(name: "b", command: Commands.sleepForever, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                try await daemon.waitUntil("both workers") { daemon.children().count == 2 }
                var grown = spec
                grown.groups[0].count = 2
                grown.groups[1].count = 3
                try daemon.writeConfig(grown)
                let reload = try await daemon.appctl("reload", "--group", "a")
                #expect(reload.exited(0), "\(reload)")
                try await daemon.waitUntil("group a to have two workers") { daemon.children().inGroup("a").count == 2 }
                #expect(daemon.children().inGroup("b").count == 1, "group b was not reloaded, so keeps its count")
            }
        }

        @Test("what an exited worker forked still dies with a master killed by SIGKILL")
        func orphansOfAnExitedWorkerDieWithTheMaster() async throws {
            // The sleep ignores the SIGTERM appd sends what an exited worker
            // left (SIGKILL would follow after the 10 s stopTimeout): the
            // master is killed before that.
            var leaver = GroupSpec(name: "leaver", command: ["/bin/sh", "-c", "(trap '' TERM; exec sleep 4321) & sleep 0.3; exit 0"], count: 1)
            leaver.stopTimeout = 10
            try await withDaemon(DaemonSpec(groups: [leaver])) { daemon in
                let orphan = try await daemon.waitFor("the first worker to exit, leaving its sleep behind") { () -> Int32? in
                    guard daemon.log.contains("exited 0") else { return nil }
                    return daemon.leftovers().first { ProcFS.commandLine(of: $0) == "sleep 4321" }
                }
                daemon.signal(SIGKILL)
                try await daemon.waitForExit(timeout: 5)
                _ = try? await daemon.waitUntil(timeout: 3, "the orphan to die with the master") { !ProcFS.isAlive(orphan) }
                #expect(!ProcFS.isAlive(orphan), "sleep 4321 (pid \(orphan)) outlived the master")
            }
        }

        @Test("a killed orphan guard is replaced, and the replacement still takes the grandchildren down with the master")
        func orphanGuardIsReplaced() async throws {
            try await withDaemon(DaemonSpec(groups: [GroupSpec(name: "forker", command: Commands.forksGrandchild, count: 1)])) { daemon in
                let master = daemon.pid
                func guardPid() -> Int32? {
                    ProcFS.childPids(of: master).first { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8))?.hasPrefix("appd-guard") == true }
                }
                let first = try await daemon.waitFor("the orphan guard") { guardPid() }
                let grandchild = try await daemon.waitFor("the worker's grandchild") {
                    daemon.leftovers().first { ProcFS.commandLine(of: $0) == "sleep 1000" }
                }
                kill(first, SIGKILL)
                try await daemon.waitUntil("a new guard") { daemon.log.contains("starting a new one") && guardPid().map { $0 != first } == true }
                daemon.signal(SIGKILL)
                try await daemon.waitForExit(timeout: 5)
                _ = try? await daemon.waitUntil(timeout: 3, "the grandchild to die with the master") { !ProcFS.isAlive(grandchild) }
                #expect(!ProcFS.isAlive(grandchild), "sleep 1000 (pid \(grandchild)) outlived the master")
            }
        }

        static func acceptsConnections(port: UInt16) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            var address = loopbackAddress(port: port)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        }
    }
}
