import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// Where the daemon's log goes at start-up: a directory that does not
    /// exist yet, and no log at all with --daemonize.
    @Suite("appd start-up end to end", .serialized)
    struct StartupEndToEndTests {
        @Test("a logFile in a missing directory: the directory is made (0700) and the log written, daemonized or not",
              arguments: [false, true])
        func logFileDirectoryIsCreated(daemonize: Bool) async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                // Relative: resolved against the config file's directory.
                try daemon.writeConfigText(spec.render(controlSocket: daemon.controlSocket, pidFile: daemon.pidFile,
                                                       statusFile: daemon.statusFile, logFile: "run/logs/appd.log"))
                if daemonize {
                    let launcher = try await daemon.startDaemonized()
                    #expect(launcher.exited(0), "\(launcher)")
                } else {
                    try await daemon.start()
                }
                let logFile = daemon.directory.file("run/logs/appd.log")
                try await daemon.waitUntil("appd to log into \(logFile)") {
                    ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").contains("appd[\(daemon.pid)]")
                }
                var info = stat()
                #expect(stat(daemon.directory.file("run"), &info) == 0 && info.st_mode & 0o777 == 0o700)
                #expect(stat(daemon.directory.file("run/logs"), &info) == 0 && info.st_mode & 0o777 == 0o700)
            }
        }

        @Test("without a config the start line says plainly that it runs the embedded demo, and where its socket and web port are")
        func demoStartLineSaysWhereEverythingIs() async throws {
            let runtime = try TemporaryDirectory()
            defer { runtime.remove() }
            let port = try FreePort.tcp()
            var environment = ProcessInfo.processInfo.environment
            for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "APPCTL_SOCKET"] { environment[key] = nil }
            environment["XDG_RUNTIME_DIR"] = runtime.path
            environment["APPD_DEMO_PORT"] = String(port)
            let output = runtime.file("appd.out")
            // The test's working directory has no appd.json: the demo runs.
            let appd = try ChildProcess.spawn(Binaries.appd, [], environment: environment, stdout: output, stderr: output)
            defer {
                appd.signal(SIGKILL)
                _ = try? ProcFS.descendants(of: appd.pid).forEach { kill($0, SIGKILL) }
            }
            let line = try await Polling.value(timeout: 10, "the start line") { () -> String? in
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").first { $0.contains(" started, pid ") }.map(String.init)
            }
            #expect(line.contains("from the EMBEDDED DEMO config"), "\(line)")
            #expect(line.contains("control socket \(runtime.path)/appd/appd.sock"), "\(line)")
            #expect(line.contains("listening: web on tcp://127.0.0.1:\(port)"), "\(line)")
            appd.signal(SIGTERM)
            try await Polling.until(timeout: 10, "the demo to stop") { appd.terminated != nil }
        }

        @Test("--daemonize with logFile \"-\" is refused before forking: exit 2, the reason on stderr, nothing started")
        func daemonizeWithoutLogFileIsRefused() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                let refused = try await daemon.runAppd(["--config", daemon.configFile, "--daemonize", "--log-file", "-"])
                #expect(refused.exited(2), "\(refused)")
                #expect(refused.stderr.contains("--daemonize needs a logFile"), "\(refused)")
                #expect(refused.stdout.isEmpty, "\(refused)")
                #expect(!FileManager.default.fileExists(atPath: daemon.pidFile), "nothing started")
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket))
                #expect(daemon.leftovers().isEmpty)
            }
        }
    }
}
