import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// `unshare` (util-linux) can make a mount namespace only for root.
    static let canMakeMountNamespaces = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")

    /// Issue 9 end to end: runtime files no one else can touch, an appctl
    /// that talks only to its own user's daemon and never hangs, and worker
    /// text that reaches the terminal escaped.
    @Suite("runtime files, the control socket and worker text, against another user", .serialized)
    struct RuntimeSecurityEndToEndTests {
        /// A config with no paths: the socket, pid file and status file go to
        /// appd's default runtime directory.
        static let configWithoutPaths = #"{groups: [{name: "sleepers", command: ["/bin/sleep", "1000"], readiness: "none"}]}"#

        /// The environment for an appd of these tests: the test's own, without
        /// systemd's variables, tagged for clean-up.
        static func environment(tag: String, _ extra: [String: String] = [:]) -> [String: String] {
            var environment = ProcessInfo.processInfo.environment
            for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "APPCTL_SOCKET", "XDG_RUNTIME_DIR"] {
                environment[key] = nil
            }
            environment["APPD_E2E_TAG"] = tag
            return environment.merging(extra) { $1 }
        }

        /// Kills, by pid, whatever carries `tag` still (nothing, when all went well).
        static func killLeftovers(tag: String) {
            let pids = ProcFS.livePids(withEnvironment: "APPD_E2E_TAG", equalTo: tag)
            for pid in pids { kill(pid, SIGKILL) }
            Polling.blockingUntil(timeout: 5) { pids.allSatisfy { !ProcFS.isAlive($0) } }
        }

        // MARK: - The attack of the issue, in a private mount namespace

        /// Another user (uid 65534) made /tmp/appd-0 (mode 0777, theirs) and
        /// planted symlinks for the pid file, the socket's lock, the status
        /// file and its temporary file, pointing at root-only files. Root's
        /// appd, with no paths configured, no XDG_RUNTIME_DIR and no usable
        /// /run, must refuse to start and leave every target as it was.
        ///
        /// Everything happens on tmpfs mounted over /tmp and (read-only) /run
        /// in a mount namespace of its own: nothing real is touched, and the
        /// mounts end with the namespace.
        @Test("a runtime directory made by another uid with planted symlinks is refused; the targets keep their content and mtime",
              .enabled(if: EndToEnd.canMakeMountNamespaces))
        func plantedRuntimeDirectoryIsRefused() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let tag = UUID().uuidString
            defer { Self.killLeftovers(tag: tag) }
            let script = #"""
                set -e
                # The build may live under /tmp (a CI checkout there): keep
                # appd reachable through a descriptor once /tmp is covered.
                exec 9<"$APPD"
                APPD=/proc/self/fd/9
                mount -t tmpfs -o mode=1777 tmpfs /tmp
                mount -t tmpfs -o ro,mode=755 tmpfs /run
                printf '%s' "$CONFIG" > /tmp/appd.json
                mkdir -m 0700 /tmp/secrets
                for name in pid lock status tmp; do
                    printf 'root only\n' > /tmp/secrets/$name
                    chmod 600 /tmp/secrets/$name
                    touch -d @978307200 /tmp/secrets/$name
                done
                # The other user's doing:
                mkdir /tmp/appd-0
                ln -s /tmp/secrets/pid /tmp/appd-0/appd.pid
                ln -s /tmp/secrets/lock /tmp/appd-0/appd.sock.lock
                ln -s /tmp/secrets/status /tmp/appd-0/appd.status
                ln -s /tmp/secrets/tmp /tmp/appd-0/appd.status.tmp
                chown -h 65534:65534 /tmp/appd-0 /tmp/appd-0/*
                chmod 0777 /tmp/appd-0
                set +e
                timeout -s KILL 20 "$APPD" --config /tmp/appd.json > /tmp/appd.out 2>&1
                echo "EXIT $?"
                sed 's/^/OUT /' /tmp/appd.out
                for name in pid lock status tmp; do
                    echo "TARGET $name $(stat -c %Y /tmp/secrets/$name) $(cat /tmp/secrets/$name)"
                done
                echo "ENTRIES $(ls -A /tmp/appd-0 | tr '\n' ' ')"
                # The same directory made safe (root's, 0700, empty): appd makes its files there.
                rm -rf /tmp/appd-0
                "$APPD" --config /tmp/appd.json > /tmp/appd2.out 2>&1 &
                appd=$!
                for i in $(seq 1000); do [ -S /tmp/appd-0/appd.sock ] && break; kill -0 $appd 2>/dev/null || break; sleep 0.01; done
                echo "CREATED $(stat -c '%a %u' /tmp/appd-0) $([ -S /tmp/appd-0/appd.sock ] && echo socket)"
                kill -TERM $appd
                wait $appd
                echo "STOPPED $?"
                """#
            let result = try await CommandRunner.run(
                "/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script],
                environment: Self.environment(tag: tag, ["APPD": Binaries.appd, "CONFIG": Self.configWithoutPaths]),
                in: directory, timeout: 60)
            #expect(result.exited(0), "\(result)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains("EXIT 1"), "appd refused to start:\n\(result)")
            #expect(result.stdout.contains(
                "cannot start: runtime directory /tmp/appd-0: is owned by uid 65534, not by appd's user (uid 0) or root"),
                "the refusal says why:\n\(result)")
            for name in ["pid", "lock", "status", "tmp"] {
                #expect(lines.contains("TARGET \(name) 978307200 root only"), "\(name)'s target is untouched:\n\(result)")
            }
            #expect(lines.contains("ENTRIES appd.pid appd.sock.lock appd.status appd.status.tmp "), "nothing was added:\n\(result)")
            #expect(lines.contains("CREATED 700 0 socket"), "a directory of its own is made 0700:\n\(result)")
            #expect(lines.contains("STOPPED 0"), "\(result)")
        }

        // MARK: - Without namespaces

        @Test("a default runtime directory with mode 0777 is refused, nothing is made in it; once 0700 appd starts and appctl finds it by the same default")
        func openRuntimeDirectoryIsRefused() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let tag = UUID().uuidString
            defer { Self.killLeftovers(tag: tag) }
            let runtime = directory.file("xdg")
            try #require(mkdir(runtime, 0o700) == 0 && mkdir(runtime + "/appd", 0o700) == 0 && chmod(runtime + "/appd", 0o777) == 0)
            let config = directory.file("appd.json")
            try Self.configWithoutPaths.write(toFile: config, atomically: true, encoding: .utf8)
            let environment = Self.environment(tag: tag, ["XDG_RUNTIME_DIR": runtime])

            let refused = try await CommandRunner.run(Binaries.appd, ["--config", config], environment: environment, in: directory)
            #expect(refused.exited(1), "\(refused)")
            #expect(refused.stderr.contains("cannot start: runtime directory \(runtime)/appd: is writable by others (mode 0777)"),
                    "\(refused)")
            #expect(refused.stderr.contains("chmod go-w \(runtime)/appd"), "says what to do: \(refused)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: runtime + "/appd").isEmpty, "nothing was made in it")

            try #require(chmod(runtime + "/appd", 0o700) == 0)
            let appd = try ChildProcess.spawn(Binaries.appd, ["--config", config], environment: environment,
                                              stdout: directory.file("out"), stderr: directory.file("out"))
            defer {
                appd.signal(SIGKILL)
                Polling.blockingUntil(timeout: 5) { !appd.isRunning }
            }
            try await Polling.until(timeout: 10, "appd to listen at its default socket",
                                    context: { (try? String(contentsOfFile: directory.file("out"), encoding: .utf8)) ?? "" }) {
                FileManager.default.fileExists(atPath: runtime + "/appd/appd.sock")
            }
            // No --socket, no config: appctl computes the same default (RuntimePaths).
            let ping = try await CommandRunner.run(Binaries.appctl, ["ping"], environment: environment, in: directory)
            #expect(ping.exited(0) && ping.stdout.contains("pong from appd at \(runtime)/appd/appd.sock"), "\(ping)")
            let stop = try await CommandRunner.run(Binaries.appctl, ["stop"], environment: environment, in: directory)
            #expect(stop.exited(0), "\(stop)")
            try await Polling.until(timeout: 10, "appd to stop") { !appd.isRunning }
        }

        @Test("a configured pid file that is a symlink is refused; planted status-file symlinks are replaced, never written through")
        func symlinksWhereAppdWritesAreNotFollowed() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                let victims = ["pid", "status", "tmp"].map { daemon.directory.file("victim-\($0)") }
                for victim in victims {
                    try "root only\n".write(toFile: victim, atomically: false, encoding: .utf8)
                    var times = [timespec(tv_sec: 978_307_200, tv_nsec: 0), timespec(tv_sec: 978_307_200, tv_nsec: 0)]
                    try #require(utimensat(AT_FDCWD, victim, &times, 0) == 0)
                }
                func untouched(_ victim: String) -> Bool {
                    var info = stat()
                    return stat(victim, &info) == 0 && info.st_mtim.tv_sec == 978_307_200
                        && (try? String(contentsOfFile: victim, encoding: .utf8)) == "root only\n"
                }

                try #require(symlink(victims[0], daemon.pidFile) == 0)
                let refused = try await daemon.runAppd(["--config", daemon.configFile])
                #expect(refused.exited(1), "\(refused)")
                #expect(refused.stderr.contains("open(\(daemon.pidFile)): is a symlink; appd does not follow symlinks where it writes"),
                        "\(refused)")
                #expect(untouched(victims[0]))
                #expect(!FileManager.default.fileExists(atPath: daemon.controlSocket))

                try #require(unlink(daemon.pidFile) == 0)
                try await daemon.start()
                try #require(symlink(victims[1], daemon.statusFile) == 0)
                try #require(symlink(victims[2], daemon.statusFile + ".tmp") == 0)
                let snapshot = try await daemon.statusSnapshot()
                #expect(snapshot.contains("sleepers"))
                var info = stat()
                #expect(lstat(daemon.statusFile, &info) == 0 && info.st_mode & S_IFMT == S_IFREG, "the link was replaced by the file")
                #expect(untouched(victims[1]) && untouched(victims[2]))
            }
        }

        @Test("appctl refuses the daemon's socket once it is owned by uid 65534 (exit 3, says why), and talks again once it is root's",
              .enabled(if: geteuid() == 0, "chown to another uid needs root"))
        func appctlRefusesASocketOfAnotherUser() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec) { daemon in
                try #require(chown(daemon.controlSocket, 65534, 65534) == 0)
                let refused = try await daemon.appctl("status")
                #expect(refused.exited(3), "\(refused)")
                #expect(refused.stderr == "appctl: cannot reach appd: \(daemon.controlSocket) is owned by uid 65534, not by you or root; "
                    + "appctl talks only to a socket of its own user or root (another user may have put this one there)\n", "\(refused)")
                #expect(refused.stdout.isEmpty)

                let link = daemon.directory.file("link.sock")
                try #require(chown(daemon.controlSocket, 0, 0) == 0 && symlink(daemon.controlSocket, link) == 0)
                let viaLink = try await daemon.appctl("ping", socket: link)
                #expect(viaLink.exited(3) && viaLink.stderr.contains("\(link) is not a socket (it is a symlink"), "\(viaLink)")
                let ping = try await daemon.appctl("ping")
                #expect(ping.exited(0), "\(ping)")
            }
        }

        @Test("a unix listen socket written {address, mode, owner, group} is bound with that mode, owner and group",
              .enabled(if: geteuid() == 0, "chown to another uid needs root"))
        func unixListenSocketGetsItsPermissions() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "web", command: Commands.sleepForever, count: 1)])
            try await withDaemon(spec, start: false) { daemon in
                try daemon.writeConfigText("""
                    {
                      controlSocket: "\(daemon.controlSocket)", pidFile: "\(daemon.pidFile)",
                      statusFile: "\(daemon.statusFile)", logFile: "\(daemon.logFile)",
                      groups: [{
                        name: "web", command: ["/bin/sleep", "1000"],
                        listen: [{address: "unix:web.sock", mode: "0660", owner: 65534, group: "65534"}],
                      }],
                    }
                    """)
                try await daemon.start()
                // The control socket exists before the listen sockets are
                // bound; the worker is spawned only after, with them.
                _ = try await daemon.waitFor("the web worker") { daemon.children().inGroup("web").first }
                var info = stat()
                try #require(lstat(daemon.directory.file("web.sock"), &info) == 0, "\(daemon.diagnostics)")
                #expect(info.st_mode & S_IFMT == S_IFSOCK && info.st_mode & 0o7777 == 0o660)
                #expect(info.st_uid == 65534 && info.st_gid == 65534)
            }
        }

        /// What a worker prints and sends as STATUS= and APPSTATS, with
        /// terminal escapes in it.
        static let hostileWorker = #"""
            import os, socket, sys, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.connect(os.environ["NOTIFY_SOCKET"])
            s.send(b'READY=1\nSTATUS=\x1b[2Jcleared\nAPPSTATS={"title": "\\u001b]0;stats\\u0007"}')
            print("\x1b]0;pwned\x07", flush=True)
            time.sleep(1000)
            """#

        @Test("a worker's ESC/OSC sequences arrive escaped in appctl status and logs, exact in --json")
        func workerControlCharactersAreEscapedForPeople() async throws {
            let python = try #require(StatsPython.path, "python3 is needed for a worker that speaks sd_notify by hand")
            let spec = DaemonSpec(groups: [GroupSpec(name: "hostile", command: [python, "-c", Self.hostileWorker], readiness: .notify)])
            try await withDaemon(spec) { daemon in
                try await daemon.waitUntil("the worker's output line in the log") { daemon.log.contains("pwned") }
                var statusJSON: [String: Any] = [:]
                let deadline = ContinuousClock.now + .seconds(10)
                while statusJSON["statusText"] == nil {
                    let status = try await daemon.appctl("status", "--json")
                    statusJSON = ((try? status.jsonObject())?["processes"] as? [[String: Any]])?.first ?? [:]
                    if statusJSON["statusText"] != nil { break }
                    guard ContinuousClock.now < deadline else {
                        Issue.record("no STATUS= in appctl status --json after 10 s: \(status)\n\(daemon.diagnostics)")
                        return
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(statusJSON["statusText"] as? String == "\u{1B}[2Jcleared", "--json is exact")
                #expect((statusJSON["appStats"] as? [String: Any])?["title"] as? String == "\u{1B}]0;stats\u{07}")

                let status = try await daemon.appctl("status")
                #expect(status.exited(0), "\(status)")
                #expect(status.stdout.contains(#"\x1b[2Jcleared"#), "\(status.stdout)")
                #expect(!status.stdout.utf8.contains(0x1B) && !status.stdout.utf8.contains(0x07), "no control byte reaches the terminal")

                let logs = try await daemon.appctl("logs")
                #expect(logs.exited(0), "\(logs)")
                #expect(logs.stdout.contains(#"hostile#0["# ) && logs.stdout.contains(#"stdout: \x1b]0;pwned\x07"#), "\(logs.stdout)")
                #expect(!logs.stdout.utf8.contains(0x1B) && !logs.stdout.utf8.contains(0x07))

                let logsJSON = try await daemon.appctl("logs", "--stream", "stdout", "--json")
                let line = try #require(logsJSON.stdoutLines.first.flatMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                })
                #expect(line["line"] as? String == "\u{1B}]0;pwned\u{07}", "--json is exact")

                let file = try await daemon.statusSnapshot()
                #expect(file.contains(#"\x1b[2Jcleared"#) && !file.utf8.contains(0x1B), "the status file is escaped too")
            }
        }

        @Test("appctl --timeout against a server that accepts and never answers: exit 3 within the timeout; a follow gives up after its ping")
        func appctlGivesUpOnASilentServer() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let server = try AppctlSafetyTests.MisbehavingServer { _, readLine in while readLine() != nil {} }
            defer { server.stop() }
            let environment = Self.environment(tag: UUID().uuidString)

            let started = ContinuousClock.now
            let status = try await CommandRunner.run(Binaries.appctl, ["--socket", server.path, "--timeout", "1", "status"],
                                                     environment: environment, in: directory, timeout: 10)
            let elapsed = ContinuousClock.now - started
            #expect(status.exited(3), "\(status)")
            #expect(status.stderr == "appctl: appd at \(server.path) did not answer within 1s (--timeout)\n", "\(status)")
            #expect(elapsed >= .milliseconds(950) && elapsed < .seconds(5), "\(elapsed)")

            let follow = try await CommandRunner.run(Binaries.appctl, ["--socket", server.path, "logs", "-f", "--timeout", "0.5"],
                                                     environment: environment, in: directory, timeout: 10)
            #expect(follow.exited(3), "\(follow)")
            #expect(follow.stderr.contains("stopped answering: nothing for 0.5s, and no answer to a ping for 0.5s more"), "\(follow)")
        }
    }
}
