import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// What a reload must never do to a service, with real daemons: take a
    /// one-process group down for a bad release, leave a fixed crash loop
    /// waiting out its backoff, keep a hung worker, or run a program that
    /// binds its own port twice.
    @Suite("rolling reload end to end", .serialized)
    struct ReloadEndToEndTests {
        static func status(_ daemon: DaemonUnderTest) async throws -> [String: Any] {
            try await daemon.appctl("status", "--json").jsonObject()
        }

        static func group(_ status: [String: Any], _ name: String) -> [String: Any]? {
            ControlEndToEndTests.summaries(status).first { $0["name"] as? String == name }
        }

        static func processes(_ status: [String: Any], _ group: String) -> [[String: Any]] {
            ((status["processes"] as? [[String: Any]]) ?? []).filter { $0["group"] as? String == group }
        }

        /// The pid named in the demo web worker's answer ("... pid 4711 ...").
        static func servingPid(port: UInt16) -> Int32? {
            guard case .answered(200, let body) = HTTPProbe.get(port: port) else { return nil }
            return body.firstMatch(of: /pid (\d+)/).flatMap { Int32($0.1) }
        }

        /// One web worker that takes 2 s to boot, under load from four
        /// clients through three reloads.
        static func reloadUnderLoad(keepAlive: Bool) async throws {
            let port = try FreePort.tcp()
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.demo("web", "--boot-delay", "2"), count: 1,
                          listen: ["tcp://127.0.0.1:\(port)"], readiness: .notify, readyTimeout: 10),
            ])
            try await withDaemon(spec) { daemon in
                var pids = [try await daemon.waitFor("the web worker to serve") { () -> Int32? in
                    let pid = daemon.children().inGroup("web").first?.pid
                    return pid != nil && Self.servingPid(port: port) == pid ? pid : nil
                }]
                let load = HTTPLoad(port: port, clients: 4, keepAlive: keepAlive)
                load.start()
                try await daemon.waitUntil("the clients to be under way") { load.count >= 50 }
                for round in 1...3 {
                    let reload = try await daemon.appctl("reload", "web", timeout: 20)
                    #expect(reload.exited(0), "reload \(round): \(reload)")
                    let pid = try await daemon.waitFor("reload \(round)'s new worker alone") { () -> Int32? in
                        let web = daemon.children().inGroup("web")
                        return web.count == 1 && !pids.contains(web[0].pid) ? web[0].pid : nil
                    }
                    pids.append(pid)
                }
                try await daemon.waitUntil("the last worker to answer some requests") { Self.servingPid(port: port) == pids.last }
                let samples = try await load.stop()
                let failed = samples.compactMap { sample -> String? in
                    switch sample.outcome {
                    case .answered(200, _): return nil
                    case .answered(let status, _): return "HTTP \(status)"
                    case .refused: return "refused"
                    case .failed(let why): return why
                    }
                }
                let slowest = samples.map(\.latency).max() ?? 0
                #expect(samples.count >= 200, "\(samples.count) requests")
                #expect(failed.isEmpty, "\(failed.count) of \(samples.count) requests failed across three reloads: \(Set(failed))")
                // The successor boots for 2 s while the old worker serves: no
                // request waits for a boot. (A generous bound for a loaded
                // 2-core machine; stop-first measured 2.01 s here. A latency
                // bound, not checked under ASan or TSan: see LatencyBounds.)
                if LatencyBounds.checked("the slowest of \(samples.count) requests took \(slowest) s") {
                    #expect(slowest < 0.5, "the slowest of \(samples.count) requests took \(slowest) s")
                }
            }
        }

        @Test("count 1, a worker that takes 2 s to boot, new connections under load through three reloads: no failed request, none slower than 0.5 s")
        func reloadUnderLoadWithFreshConnections() async throws {
            try await LoadSensitive.exclusively {
                try await Self.reloadUnderLoad(keepAlive: false)
            }
        }

        @Test("count 1, the same with keep-alive clients: the old worker drains them with Connection: close, no request fails")
        func reloadUnderLoadWithKeepAliveConnections() async throws {
            try await LoadSensitive.exclusively {
                try await Self.reloadUnderLoad(keepAlive: true)
            }
        }

        @Test("count 1: a release that exits at once, then one that never sends READY=1: reload exits 1, the old pid still serves, status says degraded")
        func badReleasesNeverTakeASingleProcessGroupDown() async throws {
            let port = try FreePort.tcp()
            var spec = DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.demo("web"), count: 1, listen: ["tcp://127.0.0.1:\(port)"],
                          readiness: .notify, readyTimeout: 1),
            ])
            try await withDaemon(spec) { daemon in
                let old = try await daemon.waitFor("the web worker to serve") { () -> Int32? in
                    let pid = daemon.children().inGroup("web").first?.pid
                    return pid != nil && Self.servingPid(port: port) == pid ? pid : nil
                }
                for (release, expected) in [
                    (["/bin/sh", "-c", "echo 'ImportError: no module named app' >&2; exit 1"], "exited 1"),
                    (Commands.sleepForever, "was not ready within 1s"),
                ] {
                    spec.groups[0].command = release
                    try daemon.writeConfig(spec)
                    let reload = try await daemon.appctl("reload", "web", timeout: 15)
                    #expect(reload.exited(1), "\(reload)")
                    #expect(reload.stderr.contains(expected), "the reason names what happened: \(reload)")
                    if expected == "exited 1" {
                        #expect(reload.stdout.contains("  | ImportError: no module named app"), "with its last output: \(reload)")
                    }
                    #expect(daemon.children().inGroup("web").map(\.pid) == [old], "the old process was never touched")
                    #expect(Self.servingPid(port: port) == old, "the old process still serves")
                    let status = try await Self.status(daemon)
                    let web = try #require(Self.group(status, "web"))
                    #expect(web["state"] as? String == "degraded", "\(web)")
                    #expect((web["reason"] as? String)?.contains(expected) == true, "\(web)")
                    let table = try await daemon.appctl("status")
                    #expect(table.stdout.contains("web is degraded: ") && table.stdout.contains(expected), "\(table.stdout)")
                }
                // The settings rolled back: a crash of the old process brings
                // back the release that worked, not the broken one.
                kill(old, SIGKILL)
                let respawned = try await daemon.waitFor(timeout: 15, "the old release to come back and serve") { () -> Int32? in
                    let pid = daemon.children().inGroup("web").first?.pid
                    return pid != nil && pid != old && Self.servingPid(port: port) == pid ? pid : nil
                }
                #expect(ProcFS.commandLine(of: respawned).contains("web"), "the demo web worker, not the broken release")
            }
        }

        @Test("a crash-looping group fixed in the config and reloaded runs at once, not after its backoff")
        func reloadStartsACrashLoopingGroupAtOnce() async throws {
            var spec = DaemonSpec(groups: [GroupSpec(name: "flaky", command: Commands.exit3, count: 1)])
            try await withDaemon(spec) { daemon in
                // Quick exits in a row: 0.1 s, 0.2 s, ... the backoff grows past 3 s.
                let remaining = try await StatsPolling.value(timeout: 20, "the backoff to exceed 3 s", context: { daemon.diagnostics }) { () -> Double? in
                    let process = Self.processes(try await Self.status(daemon), "flaky").first
                    guard process?["state"] as? String == "backoff", let left = process?["backoffRemaining"] as? Double, left > 3 else { return nil }
                    return left
                }
                spec.groups[0].command = Commands.sleepForever
                try daemon.writeConfig(spec)
                let started = Date()
                let reload = try await daemon.appctl("reload", "flaky", timeout: 15)
                let elapsed = Date().timeIntervalSince(started)
                #expect(reload.exited(0), "\(reload)")
                #expect(reload.stdout.contains("flaky#0 not running → flaky#0["), "the reload says the slot was not running: \(reload)")
                #expect(reload.stdout.contains("1 slot that was not running started"), "\(reload)")
                let process = try #require(Self.processes(try await Self.status(daemon), "flaky").first)
                #expect(process["state"] as? String == "running", "\(process)")
                #expect(elapsed < remaining, "running after \(elapsed) s, before the \(remaining) s backoff would have ended")
            }
        }

        @Test("watchdogSeconds: a worker that stops sending WATCHDOG=1 is killed as hung and replaced; one that pings stays")
        func watchdogReplacesAHungWorker() async throws {
            let pinger = """
                import os, socket, time
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                interval = int(os.environ["WATCHDOG_USEC"]) / 2e6
                assert os.environ["WATCHDOG_PID"] == str(os.getpid())
                s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
                while True:
                    s.sendto(b"WATCHDOG=1", os.environ["NOTIFY_SOCKET"])
                    time.sleep(interval)
                """
            let python = try #require(ControlEndToEndTests.executableInPath("python3"), "python3 runs the pinging worker")
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "hung", command: Commands.sleepForever, count: 1, stopTimeout: 1,
                          readiness: GroupSpec.Readiness.none, watchdogSeconds: 1),
                // Its watchdog runs from READY=1, not from the spawn: python3
                // (a pyenv shim here) took over the 1 s to start on a loaded
                // machine, and was killed as hung before its first ping.
                GroupSpec(name: "alive", command: [python, "-c", pinger], count: 1,
                          readiness: .notify, watchdogSeconds: 1),
            ])
            try await withDaemon(spec) { daemon in
                let hung = try await daemon.waitFor("the hung worker") { daemon.children().inGroup("hung").first }
                let alive = try await daemon.waitFor("the pinging worker") { daemon.children().inGroup("alive").first }
                let replacement = try await daemon.waitFor("the hung worker to be replaced") {
                    daemon.children().inGroup("hung").first { $0.pid != hung.pid }
                }
                #expect(replacement.id == 0)
                #expect(daemon.log.contains("worker hung#0[\(hung.pid)] sent no WATCHDOG=1 for 1s: hung; sending SIGABRT"), "\(daemon.log)")
                #expect(daemon.log.contains("worker hung#0[\(hung.pid)] killed by SIGABRT"), "\(daemon.log)")
                let status = try await Self.status(daemon)
                let exits = (Self.group(status, "hung")?["exits"] as? [[String: Any]]) ?? []
                #expect(exits.first?["status"] as? String == "watchdog", "counted as a watchdog kill: \(exits)")
                // Two watchdog periods past its READY=1: had its pings not
                // counted, it would have been killed by then.
                let ready = try await daemon.waitFor("the pinging worker to be ready") {
                    daemon.logLines.master.first(containing: "worker alive#0[\(alive.pid)] is ready")
                }
                try await daemon.waitUntil("two watchdog periods past its READY=1") { Date().timeIntervalSince1970 >= ready.time + 2.1 }
                #expect(daemon.children().inGroup("alive") == [alive], "the worker that pings keeps running")
            }
        }

        @Test("stopFirst reloads a program that binds its own port; startFirst on it aborts and the old one keeps serving")
        func selfBindingProgramNeedsStopFirst() async throws {
            let python = try #require(ControlEndToEndTests.executableInPath("python3"), "python3 -m http.server binds its own port")
            let port = try FreePort.tcp()
            let server = [python, "-m", "http.server", "\(port)", "--bind", "127.0.0.1"]
            var spec = DaemonSpec(groups: [
                GroupSpec(name: "own", command: server, count: 1, readiness: .afterSeconds(1), reloadStrategy: "stopFirst"),
            ])
            try await withDaemon(spec) { daemon in
                func answered() -> Bool { if case .answered(200, _) = HTTPProbe.get(port: port) { true } else { false } }
                let first = try await daemon.waitFor("the server to answer") { answered() ? daemon.children().inGroup("own").first : nil }
                let stopFirst = try await daemon.appctl("reload", "own", timeout: 15)
                #expect(stopFirst.exited(0), "\(stopFirst)")
                let second = try await daemon.waitFor("the new server to answer") { () -> WorkerProcess? in
                    let now = daemon.children().inGroup("own").first
                    return now != nil && now != first && answered() ? now : nil
                }

                spec.groups[0].reloadStrategy = "startFirst"
                try daemon.writeConfig(spec)
                let startFirst = try await daemon.appctl("reload", "own", timeout: 15)
                #expect(startFirst.exited(1), "the successor cannot bind the port: \(startFirst)")
                #expect(startFirst.stdout.contains("reloadStrategy \"stopFirst\""), "and the reload says what to do: \(startFirst)")
                #expect(daemon.children().inGroup("own") == [second], "the old server was never touched")
                #expect(answered(), "and still answers")
            }
        }
    }

    /// Restart storms, measured from outside while they rage.
    @Suite("a master that nothing can stall", .serialized)
    struct StormEndToEndTests {
        /// The most of `times` (in order) that fall within any `seconds`.
        static func most(of times: [Double], within seconds: Double) -> Int {
            var most = 0
            var first = 0
            for last in times.indices {
                while times[last] - times[first] >= seconds { first += 1 }
                most = max(most, last - first + 1)
            }
            return most
        }

        @Test("500 workers each living 1.1 s, for 20 s: ping keeps answering quickly, restarts past the intensity limit are held back, SIGTERM stops everything within stopTimeout")
        func restartStormDoesNotStallTheMaster() async throws {
            try await LoadSensitive.exclusively {
                let spec = DaemonSpec(stopTimeout: 2, groups: [
                    GroupSpec(name: "storm", command: ["/bin/sleep", "1.1"], count: 500, readiness: GroupSpec.Readiness.none),
                ])
                try await withDaemon(spec) { daemon in
                    // 500 exits: 500 spawns and 1.1 s. Under ASan or TSan the
                    // master spawns about 20 workers a second, less on a busy
                    // machine, so it waits longer for the storm to begin (a
                    // deadline for what the test needs, not a bound it checks).
                    let beginning = LatencyBounds.slowingSanitizer == nil ? 20.0 : 60.0
                    try await daemon.waitUntil(timeout: beginning, "the storm to begin") {
                        daemon.logLines.master.filter { $0.message.hasPrefix("worker storm#") && $0.message.contains("exited 0") }.count >= 500
                    }
                    let client = try daemon.controlClient()
                    var roundTrips: [Double] = []
                    let until = ContinuousClock.now + .seconds(20)
                    var id = 0
                    while ContinuousClock.now < until {
                        id += 1
                        let sent = ContinuousClock.now
                        try client.send(#"{"id":\#(id),"cmd":"ping"}"#)
                        let reply = try client.replies(untilDoneFor: id, timeout: 5)
                        #expect(reply.last?.ok == true, "\(reply)")
                        let elapsed = ContinuousClock.now - sent
                        roundTrips.append(Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    roundTrips.sort()
                    let median = roundTrips[roundTrips.count / 2]
                    let p90 = roundTrips[roundTrips.count * 9 / 10]
                    let worst = roundTrips.last ?? 0
                    let measured = "\(roundTrips.count) pings in 20 s, median \(median) s, 90th percentile \(p90) s, slowest \(worst) s"
                    print("storm: \(measured)")
                    // Every ping above was answered within 5 s. How quickly is
                    // a latency bound, not checked under ASan or TSan (see
                    // LatencyBounds); nor is the number of pings, which only
                    // the round trips' length limits.
                    if LatencyBounds.checked(measured) {
                        #expect(roundTrips.count >= 50, "\(roundTrips.count) pings in 20 s")
                        // The issue's 100 ms, for 9 pings of 10: a loop turn
                        // of the storm stays near 10 ms (TurnSlice); a Python
                        // client on the same host saw a slowest ping of 38 ms
                        // at load 8. The slowest of the test's own pings is
                        // held to 1 s only: with other builds sharing this
                        // 2-core host (load 5-8) it was 55, 66, 205 and once
                        // 603 ms, the test process as starved as the master
                        // (its 20 s held 101 pings, not 400, with the whole
                        // suite beside it at load 9, and a 95th percentile of
                        // 93 ms). bench/load-latency.py has the figures.
                        #expect(p90 < 0.1, "\(measured)")
                        #expect(worst < 1, "\(measured)")
                    }
                    // RestartIntensity (twice the count): past 1000 restarts
                    // wanted in 10 s, the group's restarts are held back and the
                    // log says so. Whether the storm gets there depends on how
                    // fast the master respawns, that is on the host (20 a second
                    // was seen under ASan, under 100 on a loaded 2-core host
                    // with the whole suite running), so the test checks the rule
                    // when the storm reached it: each exit of a process that
                    // lived over 1 s wants its restart at once, and more than
                    // 1000 of them within 9.9 s must have met the hold. (The
                    // starts themselves may bunch past the limit: the hold books
                    // restart times, and the spawn queue carries them out as
                    // the master gets to them.)
                    let exits = daemon.logLines.master
                        .filter { $0.message.hasPrefix("worker storm#") && $0.message.contains("exited 0") }
                        .map(\.time).sorted()
                    let busiest = Self.most(of: exits, within: 9.9)
                    let held = daemon.log.contains("group storm restarts too often")
                    print("storm: at most \(busiest) exits in 9.9 s; restarts held back: \(held)")
                    if busiest > 1000 {
                        #expect(held, "\(busiest) exits in 9.9 s wanted more restarts than the limit of 1000 in 10 s, and none was held back")
                    }
                    let stopping = ContinuousClock.now
                    daemon.signal(SIGTERM)
                    let ended = try await daemon.waitForExit(timeout: LatencyBounds.slowingSanitizer == nil ? 10 : 30)
                    let took = ContinuousClock.now - stopping
                    #expect(ended?.exited == true && ended?.code == 0, "\(String(describing: ended))")
                    // sleep dies at SIGTERM: how soon appd is done is how fast it
                    // handles 500 exits (0.13-0.19 s seen at load 6-9), a latency
                    // bound, not checked under ASan or TSan (7.9 s was seen under
                    // ASan on a busy machine).
                    print("storm: stopped in \(took), stopTimeout 2 s")
                    if LatencyBounds.checked("stopped in \(took), stopTimeout 2 s") {
                        #expect(took < .seconds(2), "stopped in \(took), within stopTimeout 2 s")
                    }
                    // The orphan guard ends just after the master, once it reads
                    // the end of the master's pipe: under ASan it was still seen
                    // at the master's exit. As the other stop tests do, wait a
                    // little for nothing to be left.
                    try await daemon.waitUntil(timeout: 3, "nothing started by the daemon to be left") { daemon.leftovers().isEmpty }
                }
            }
        }
    }
}
