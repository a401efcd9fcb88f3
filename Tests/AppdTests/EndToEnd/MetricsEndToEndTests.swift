import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// The metrics listener of a real daemon (`metrics: {listen: ...}`), seen
    /// by what scrapes and probes it: its `/metrics` read by a real
    /// Prometheus parser, its counters against what the test did, `/healthz`
    /// against the groups, and its limits against clients that misbehave.
    @Suite("Prometheus metrics and /healthz over HTTP")
    struct MetricsEndToEndTests {
        static func spec(metricsPort: UInt16, webPort: UInt16) -> DaemonSpec {
            DaemonSpec(groups: [
                GroupSpec(name: "web", command: Commands.demo("web"), count: 2, listen: ["tcp://127.0.0.1:\(webPort)"], readiness: .notify),
                GroupSpec(name: "sleeper", command: Commands.sleepForever, count: 1, readiness: GroupSpec.Readiness.none),
            ], metricsListen: "tcp://127.0.0.1:\(metricsPort)")
        }

        /// `GET path` on the metrics port: status and body.
        static func get(_ path: String, port: UInt16) -> (status: Int, body: String)? {
            guard case .answered(let status, let body) = HTTPProbe.get(port: port, path: path) else { return nil }
            return (status, body)
        }

        /// The value of the sample written exactly as `series` (name and labels).
        static func value(of series: String, in text: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
        }

        @Test("/metrics parses with a real Prometheus parser, and its restart counter matches the kills the test made",
              .enabled(if: PrometheusParser.installed != nil, Comment(rawValue: PrometheusParser.missing)))
        func metricsParseAndCountTheKills() async throws {
            let parser = try #require(PrometheusParser.installed)
            let (metricsPort, webPort) = (try FreePort.tcp(), try FreePort.tcp())
            try await withDaemon(Self.spec(metricsPort: metricsPort, webPort: webPort)) { daemon in
                _ = try await daemon.waitFor(timeout: 20, "both web workers ready") { () -> Bool? in
                    Self.get("/healthz", port: metricsPort)?.status == 200 ? true : nil
                }

                // Three kills of the sleeper, each waited out until its replacement runs.
                let kills = 3
                for _ in 0..<kills {
                    let old = try await daemon.waitFor("a sleeper process") { daemon.children().pidsByID("sleeper")[0] }
                    kill(old, SIGKILL)
                    _ = try await daemon.waitFor(timeout: 15, "the sleeper killed (pid \(old)) to be replaced") { () -> Int32? in
                        daemon.children().pidsByID("sleeper")[0].flatMap { $0 != old ? $0 : nil }
                    }
                }
                // A request to a web worker shows in its APPSTATS, which reach the metrics.
                guard case .answered(200, _) = HTTPProbe.get(port: webPort) else {
                    Issue.record("the web workers do not answer")
                    return
                }
                let text = try await daemon.waitFor(timeout: 15, "the web worker's APPSTATS requests=1 in /metrics") { () -> String? in
                    guard let (status, body) = Self.get("/metrics", port: metricsPort), status == 200 else { return nil }
                    return body.split(separator: "\n").contains { $0.hasPrefix("appd_worker_appstats{group=\"web\"") && $0.hasSuffix("key=\"requests\"} 1") }
                        ? body : nil
                }

                let problems = try await parser.problems(in: text, directory: daemon.directory)
                #expect(problems == nil, "\(problems ?? "")\n\(text)")
                // The parser does refuse what is not the format.
                #expect(try await parser.problems(in: "appd_x{group=\"web} 1\n", directory: daemon.directory) != nil)
                #expect(Self.value(of: #"appd_group_restarts_total{group="sleeper"}"#, in: text) == Double(kills), "\(text)")
                #expect(Self.value(of: #"appd_group_exits_total{group="sleeper",reason="signal:KILL"}"#, in: text) == Double(kills))
                #expect(Self.value(of: #"appd_group_restarts_total{group="web"}"#, in: text) == 0)
                #expect(Self.value(of: #"appd_group_ready_processes{group="web"}"#, in: text) == 2)
                #expect(Self.value(of: #"appd_group_processes{group="web",state="running"}"#, in: text) == 2)
                let sleeper = try #require(daemon.children().pidsByID("sleeper")[0])
                #expect(Self.value(of: #"appd_worker_open_fds{group="sleeper",id="0",pid="\#(sleeper)"}"#, in: text) != nil, "\(text)")
                #expect(Self.value(of: #"appd_worker_cpu_seconds_total{group="sleeper",id="0",pid="\#(sleeper)"}"#, in: text) != nil)
                #expect(text.contains("# TYPE appd_worker_resident_memory_bytes gauge"))

                // appctl metrics prints the same families, and counts itself among the control requests.
                let printed = try await daemon.appctl("metrics")
                #expect(printed.exited(0), "\(printed)")
                #expect(Self.value(of: #"appd_group_restarts_total{group="sleeper"}"#, in: printed.stdout) == Double(kills))
                #expect(try await parser.problems(in: printed.stdout, directory: daemon.directory) == nil)
                let after = try #require(Self.get("/metrics", port: metricsPort)?.body)
                #expect(Self.value(of: #"appd_control_requests_total{command="metrics",result="ok"}"#, in: after) == 1, "\(after)")
            }
        }

        @Test("/healthz is 503 with the reason while a group crash-loops or is stopped, and 200 again once it is back")
        func healthzFollowsTheGroups() async throws {
            let metricsPort = try FreePort.tcp()
            let daemon = try DaemonUnderTest(DaemonSpec(groups: []))
            let down = daemon.directory.file("down")
            // Exits 3 at once while the file exists: a crash loop the test turns on and off.
            let flaky = GroupSpec(name: "flaky", command: ["/bin/sh", "-c", "test -e \"$DOWN\" && exit 3; exec sleep 1000"], count: 1,
                                  readiness: GroupSpec.Readiness.none, env: ["DOWN": down])
            try daemon.writeConfig(DaemonSpec(groups: [flaky], metricsListen: "tcp://127.0.0.1:\(metricsPort)"))
            defer { daemon.tearDown() }
            try await daemon.start()
            func healthz() -> (status: Int, body: String)? { Self.get("/healthz", port: metricsPort) }

            let healthy = try await daemon.waitFor("/healthz 200") { healthz().flatMap { $0.status == 200 ? $0 : nil } }
            #expect(healthy.body == "ok\n")

            FileManager.default.createFile(atPath: down, contents: nil)
            kill(try #require(daemon.children().pidsByID("flaky")[0]), SIGKILL)
            let failing = try await daemon.waitFor(timeout: 15, "/healthz 503 while flaky crash-loops") {
                healthz().flatMap { $0.status == 503 ? $0 : nil }
            }
            #expect(failing.body.hasPrefix("flaky: 0/1 ready") && failing.body.hasSuffix("\n")
                    && failing.body.dropLast().contains("\n") == false, "one line saying why: \(failing.body)")

            try FileManager.default.removeItem(atPath: down)
            _ = try await daemon.waitFor(timeout: 30, "/healthz 200 once flaky runs again") { healthz().flatMap { $0.status == 200 ? $0 : nil } }

            // A group the operator stopped is not healthy either (the rule of appctl health).
            #expect(try await daemon.appctl("stop", "flaky").exited(0))
            #expect(healthz()?.status == 503 && healthz()?.body == "flaky is stopped (appctl start flaky)\n", "\(String(describing: healthz()))")
            #expect(try await daemon.appctl("start", "flaky").exited(0))
            _ = try await daemon.waitFor(timeout: 10, "/healthz 200 after start") { healthz().flatMap { $0.status == 200 ? $0 : nil } }
        }

        @Test("a metrics address already in use refuses the start, naming it, and leaves nothing behind")
        func aTakenMetricsAddressRefusesTheStart() async throws {
            let holder = try TCPListener(port: 0)
            defer { holder.close() }
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleeper", command: Commands.sleepForever, count: 1)],
                                  metricsListen: "tcp://127.0.0.1:\(holder.port)")
            try await withDaemon(spec, start: false) { daemon in
                let launcher = try await daemon.startDaemonized()
                #expect(launcher.exitedWithFailure, "\(launcher)")
                #expect(daemon.log.contains("cannot start") && daemon.log.contains("bind(tcp://127.0.0.1:\(holder.port))"), "\(daemon.log)")
                try await daemon.waitUntil(timeout: 5, "nothing of the failed daemon to be left") { daemon.leftovers().isEmpty }
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket))
            }
        }

        @Test("anything but GET /metrics or /healthz gets 400, 404 or 405; connections beyond the cap get 503 while the master answers")
        func misbehavingClientsAreTurnedAway() async throws {
            let metricsPort = try FreePort.tcp()
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleeper", command: Commands.sleepForever, count: 1)],
                                  metricsListen: "tcp://127.0.0.1:\(metricsPort)")
            try await withDaemon(spec) { daemon in
                func exchange(_ request: String) -> HTTPProbe.Outcome {
                    switch HTTPProbe.connect(port: metricsPort) {
                    case .success(let probe): return probe.sendRaw(request) ?? probe.receiveAnswer()
                    case .failure(let failure): return failure.outcome
                    }
                }
                // The listener is bound after the control socket the start waited for.
                _ = try await daemon.waitFor("the metrics listener") { Self.get("/healthz", port: metricsPort) }
                let cases: [(request: String, status: Int, saying: String)] = [
                    ("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "only GET"),
                    ("GET /nothing HTTP/1.1\r\n\r\n", 404, "try /metrics or /healthz"),
                    ("GET /metrics HTTP/2.0\r\n\r\n", 400, "HTTP/1.0 and HTTP/1.1"),
                    ("GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 10_000) + "\r\n\r\n", 400, "request head over"),
                    ("GET /metrics HTTP/1.0\r\n\r\n", 200, "# TYPE appd_group_restarts_total counter"),
                ]
                for (request, status, saying) in cases {
                    let outcome = exchange(request)
                    guard case .answered(status, let body) = outcome, body.contains(saying) else {
                        Issue.record("\(request.prefix(40).debugDescription): expected \(status) saying '\(saying)', got \(outcome)")
                        continue
                    }
                }

                // The cap: 64 connections that say nothing are held; the next is told 503 at once.
                var idle: [HTTPProbe] = []
                for _ in 0..<64 {
                    guard case .success(let probe) = HTTPProbe.connect(port: metricsPort) else { break }
                    idle.append(probe)
                }
                #expect(idle.count == 64)
                guard case .success(let extra) = HTTPProbe.connect(port: metricsPort) else {
                    Issue.record("could not connect a 65th time")
                    return
                }
                guard case .answered(503, let refusal) = extra.receiveAnswer() else {
                    Issue.record("the 65th connection was not refused with a 503")
                    return
                }
                #expect(refusal.contains("too many connections"))
                // Meanwhile the master goes on answering its control socket.
                #expect(try await daemon.appctl("ping").exited(0))
                idle.removeAll()
                _ = try await daemon.waitFor(timeout: 10, "/healthz answered again once the idle clients left") {
                    Self.get("/healthz", port: metricsPort)?.status == 200 ? true : nil
                }
            }
        }
    }
}
