import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// What a group's processes are started as, read back from /proc: the
    /// user, groups, umask, limits and nice value of `user`, `umask`,
    /// `rlimits` and `nice`; the variables of `envFile` and the templates of
    /// `env`; and `appd --check` refusing a user that does not exist.
    @Suite("identity and environment per group end to end")
    struct IdentityEndToEndTests {
        static let isRoot = geteuid() == 0

        /// Sends READY=1 on its NOTIFY_SOCKET once, then sleeps: it can only
        /// get ready if it can reach its socket as the user it runs as.
        static func notifyingWorker(_ python: String) -> [String] {
            [python, "-c", "import os, socket, time\n"
                + "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
                + "print('ready as uid', os.getuid(), flush=True)\n"
                + "time.sleep(1000)"]
        }

        /// The fields of a `/proc/PID/status` line, e.g. `Uid:` → ["65534", "65534", "65534", "65534"].
        static func statusFields(_ pid: Int32, _ key: String) -> [String]? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
            let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            return line.map { $0.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
        }

        /// Soft and hard limit of one row of `/proc/PID/limits`, e.g. "Max open files".
        static func limit(_ pid: Int32, _ name: String) -> (soft: String, hard: String)? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
            let fields = line.dropFirst(name.count).split(separator: " ")
            return fields.count >= 2 ? (String(fields[0]), String(fields[1])) : nil
        }

        /// The nice value, field 19 of `/proc/PID/stat`.
        static func nice(_ pid: Int32) -> Int? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            return fields.count > 16 ? Int(fields[16]) : nil
        }

        @Test("user nobody with umask, nofile, nice and readiness notify: the workers run so (per /proc), with nobody's HOME, reach their notify socket and get ready",
              .enabled(if: isRoot, "starting a worker as another user needs appd to run as root"))
        func workersRunAsNobodyWithTheirLimitsAndGetReady() async throws {
            let python = try #require(StatsPython.path, "python3 is needed for a worker that speaks sd_notify by hand")
            let group = GroupSpec(
                name: "web", command: Self.notifyingWorker(python), count: 2, readiness: .notify, readyTimeout: 60,
                cwd: "/", user: "nobody", umask: "0027", nice: 7, rlimits: ["nofile": (soft: 1000, hard: 2000)])
            try await withDaemon(DaemonSpec(groups: [group])) { daemon in
                _ = try await StatsPolling.value(timeout: 60, "both nobody workers to have sent READY=1 and be running",
                                             context: { daemon.diagnostics }) { () -> Bool? in
                    let status = try await StatsCtl.status(daemon, group: "web").inGroup("web")
                    return status.count == 2 && status.allSatisfy { $0.state == "running" } ? true : nil
                }
                let workers = daemon.children().inGroup("web")
                try #require(workers.count == 2, "\(workers)")
                for worker in workers {
                    #expect(Self.statusFields(worker.pid, "Uid") == ["65534", "65534", "65534", "65534"], "real, effective, saved, fs uid")
                    #expect(Self.statusFields(worker.pid, "Gid") == ["65534", "65534", "65534", "65534"])
                    #expect(Self.statusFields(worker.pid, "Groups") == ["65534"], "nobody's groups, none of appd's")
                    #expect(Self.statusFields(worker.pid, "Umask") == ["0027"])
                    #expect(Self.limit(worker.pid, "Max open files").map { [$0.soft, $0.hard] } == ["1000", "2000"],
                            "the configured nofile wins over the soft limit appd gives workers back")
                    #expect(Self.nice(worker.pid) == 7)
                    let environment = ProcFS.environment(of: worker.pid)
                    #expect(environment["USER"] == "nobody" && environment["LOGNAME"] == "nobody" && environment["HOME"] == "/nonexistent",
                            "a login's variables, not appd's")
                    let socket = try #require(ProcFS.environment(of: worker.pid)["NOTIFY_SOCKET"])
                    var info = stat()
                    #expect(lstat(socket, &info) == 0 && info.st_uid == 65534 && info.st_mode & 0o777 == 0o600,
                            "the worker's notify socket is its user's, and no one else's")
                    try await daemon.waitUntil("worker \(worker.id)'s stdout to be captured as before") {
                        daemon.outputLines(of: worker).contains("ready as uid 65534")
                    }
                }
                #expect(!daemon.logLines.master.contains { $0.level == "warning" || $0.level == "error" }, "\(daemon.log)")
            }
        }

        @Test("envFile and {{N + id}} templates in env reach each worker's environment; env wins over envFile")
        func envFileAndTemplatesReachTheWorkers() async throws {
            let directory = try TemporaryDirectory()
            let envFile = directory.file("app.env")
            try "# shared settings\nDB_URL=\"postgres://db/app\"\nMODE=from-file\nGREETING='hello  world'\n"
                .write(toFile: envFile, atomically: false, encoding: .utf8)
            let group = GroupSpec(name: "web", command: Commands.sleepForever, count: 2, readiness: GroupSpec.Readiness.none,
                                  env: ["PORT": "{{8000 + id}}", "MODE": "from-env"], envFile: [envFile, "-" + directory.file("absent.env")])
            try await withDaemon(DaemonSpec(groups: [group])) { daemon in
                let workers = try await daemon.waitFor("two workers") { () -> [WorkerProcess]? in
                    let workers = daemon.children().inGroup("web")
                    return workers.count == 2 ? workers : nil
                }
                for worker in workers {
                    let environment = ProcFS.environment(of: worker.pid)
                    #expect(environment["PORT"] == String(8000 + worker.id), "\(worker)")
                    #expect(environment["DB_URL"] == "postgres://db/app" && environment["GREETING"] == "hello  world")
                    #expect(environment["MODE"] == "from-env")
                }
                // Read at reload, never by the child: a changed file reaches the new processes.
                try "DB_URL=postgres://db/other\n".write(toFile: envFile, atomically: false, encoding: .utf8)
                let reload = try await daemon.appctl("reload", timeout: 60)
                #expect(reload.exited(0), "\(reload)")
                let replaced = try await daemon.waitFor(timeout: 30, "workers started with the new file") { () -> [WorkerProcess]? in
                    let workers = daemon.children().inGroup("web")
                    let updated = workers.filter { ProcFS.environment(of: $0.pid)["DB_URL"] == "postgres://db/other" }
                    return updated.count == 2 && workers.count == 2 ? updated : nil
                }
                #expect(replaced.allSatisfy { ProcFS.environment(of: $0.pid)["GREETING"] == nil }, "gone from the file, gone from the worker")
            }
        }

        @Test("appd --check refuses a user that does not exist, with its field path; so does the daemon at start")
        func checkRefusesAnUnknownUser() async throws {
            let group = GroupSpec(name: "web", command: Commands.sleepForever, user: "appd-no-such-user")
            let daemon = try DaemonUnderTest(DaemonSpec(groups: [group]))
            defer { daemon.tearDown() }
            let check = try await daemon.runAppd(["--check", "--config", daemon.configFile])
            #expect(check.exited(1), "\(check)")
            #expect(check.stderr.contains("\(daemon.configFile): groups[0].user: no such user 'appd-no-such-user'"), "\(check)")
            // The daemon itself refuses it too, before it starts anything.
            let start = try await daemon.runAppd(["--config", daemon.configFile])
            #expect(start.exited(1), "\(start)")
            #expect(start.stderr.contains("groups[0].user: no such user 'appd-no-such-user'"), "\(start)")
        }
    }
}
