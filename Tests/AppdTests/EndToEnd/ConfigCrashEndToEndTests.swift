import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// Issue 9: one byte in the config killed the running master and every
    /// worker. The file of the report, `{grüße: 1}` saved as Latin-1, given
    /// to a running daemon by SIGHUP and by `appctl reload`.
    @Suite("a config that crashed the parser, given to a running appd", .serialized)
    struct ConfigCrashEndToEndTests {
        /// `{grüße: 1}` in Latin-1: ü is 0xFC, ß is 0xDF.
        static let latin1Config: [UInt8] = [0x7B, 0x67, 0x72, 0xFC, 0xDF, 0x65, 0x3A, 0x20, 0x31, 0x7D]

        /// Replaces the daemon's config file with `bytes` (renamed into place,
        /// so the daemon never reads half of it).
        static func writeConfigBytes(_ bytes: [UInt8], to daemon: DaemonUnderTest) throws {
            let temporary = daemon.configFile + ".new"
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, daemon.configFile) == 0 else { throw SyscallError.last("rename(\(daemon.configFile))") }
        }

        @Test("SIGHUP and appctl reload with the Latin-1 config: refused with line:column, master and every worker keep running")
        func latin1ConfigIsRefusedOnReload() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2),
                GroupSpec(name: "others", command: Commands.sleepForever, count: 1),
            ])
            try await withDaemon(spec) { daemon in
                let before = try await daemon.waitFor("three workers") { () -> [WorkerProcess]? in
                    let workers = daemon.children()
                    return workers.count == 3 ? workers : nil
                }
                try Self.writeConfigBytes(Self.latin1Config, to: daemon)
                let expected = "\(daemon.configFile):1:4: invalid UTF-8: byte 0xFC cannot start a character"

                // By signal: refused, logged with the position.
                daemon.signal(SIGHUP)
                try await daemon.waitUntil("the reload to be refused") { daemon.log.contains("reload refused") }
                #expect(daemon.log.contains(expected), "\(daemon.log)")
                // Answered after the refused reload: whatever it did is done.
                _ = try await daemon.statusSnapshot()
                #expect(daemon.isRunning)
                #expect(daemon.children() == before, "every worker keeps its pid")

                // By appctl: exit 1, the position in the message.
                let reload = try await daemon.appctl("reload")
                #expect(reload.exited(1), "\(reload)")
                #expect(reload.stderr.contains(expected), "\(reload)")
                #expect(daemon.isRunning)
                #expect(daemon.children() == before, "every worker keeps its pid")

                // appd --check on the same file: exit 1 with line:column, no trap (it exited 132).
                let check = try await daemon.runAppd(["--check", "--config", daemon.configFile])
                #expect(check.exited(1), "\(check)")
                #expect(check.stderr.contains(expected), "\(check)")

                // Fixed, the file is applied as usual.
                try daemon.writeConfig(spec)
                let fixed = try await daemon.appctl("reload")
                #expect(fixed.exited(0), "\(fixed)")
            }
        }

        @Test("appd --check: a command that is missing or not executable is reported (exit 1); the daemon itself starts anyway")
        func checkReportsCommandsThatCannotRun() async throws {
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1),
                GroupSpec(name: "missing", command: ["appd-test-no-such-program", "--flag"], count: 1),
                GroupSpec(name: "denied", command: ["./not-executable.sh"], count: 1),
            ])
            try await withDaemon(spec, start: false) { daemon in
                let script = daemon.directory.file("not-executable.sh")
                try "#!/bin/sh\nexec sleep 1000\n".write(toFile: script, atomically: false, encoding: .utf8)
                chmod(script, 0o644)

                let check = try await daemon.runAppd(["--check", "--config", daemon.configFile])
                #expect(check.exited(1), "\(check)")
                #expect(check.stderr.contains("\(daemon.configFile): groups[1].command[0]: command 'appd-test-no-such-program' not found in PATH"), "\(check)")
                #expect(check.stderr.contains("\(daemon.configFile): groups[2].command[0]: command './not-executable.sh' ('\(script)', relative to the group's cwd) cannot be executed: permission denied (mode 0644)"), "\(check)")
                #expect(!check.stderr.contains("groups[0]"), "\(check)")
                #expect(check.stdout.isEmpty, "no OK summary: \(check)")

                // Starting is not refused: the group that can run runs, the others back off.
                try await daemon.start()
                _ = try await daemon.waitFor("the sleeper") { daemon.children().inGroup("sleepers").first }
                try await daemon.waitUntil("the missing command to be logged as a spawn failure") {
                    daemon.log.contains("appd-test-no-such-program")
                }
            }
        }

        @Test("appctl --config with a broken config still finds the socket, says so, and the daemon refuses the reload")
        func appctlFindsTheSocketOfABrokenConfig() async throws {
            let spec = DaemonSpec(groups: [GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 2)])
            try await withDaemon(spec) { daemon in
                let before = try await daemon.waitFor("two workers") { () -> [WorkerProcess]? in
                    let workers = daemon.children()
                    return workers.count == 2 ? workers : nil
                }
                // The Latin-1 key on line 3, the socket on line 2, a syntax error further down.
                let broken = Array("{\n  controlSocket: \"\(daemon.controlSocket)\",\n  ".utf8)
                    + [0x67, 0x72, 0xFC, 0xDF, 0x65] + Array(": 1,\n  groups: [,\n}\n".utf8)
                try Self.writeConfigBytes(broken, to: daemon)

                let reload = try await daemon.appctl(arguments: ["--config", daemon.configFile, "reload"])
                #expect(reload.exited(1), "the daemon was reached and refused the reload: \(reload)")
                #expect(reload.stderr.contains(
                    "appctl: \(daemon.configFile) cannot be used (\(daemon.configFile):3:5: invalid UTF-8: byte 0xFC"), "\(reload)")
                #expect(reload.stderr.contains("using the controlSocket found by scanning it: \(daemon.controlSocket)"), "\(reload)")
                #expect(reload.stderr.contains("reload") && reload.stderr.contains("\(daemon.configFile):3:5:"), "\(reload)")

                let status = try await daemon.appctl(arguments: ["--config", daemon.configFile, "status", "--json"])
                #expect(status.exited(0), "\(status)")
                #expect(daemon.children() == before, "every worker keeps its pid")
            }
        }
    }
}
