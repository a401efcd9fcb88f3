import Foundation
import Glibc
import Testing

extension EndToEnd {
    /// `unshare` (util-linux) can make a PID namespace only for root.
    static let canMakePidNamespaces = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")

    /// appd as the first process of a container: `unshare --pid --fork` makes
    /// it PID 1 of a new PID namespace, where every orphan is re-parented to
    /// it and the kernel drops any signal PID 1 has not asked for.
    @Suite("appd as PID 1 of a PID namespace", .serialized, .enabled(if: EndToEnd.canMakePidNamespaces))
    struct PidOneEndToEndTests {
        @Test("as PID 1 appd reaps re-parented orphans, answers appctl, and stops on a SIGTERM from outside")
        func runsAsPidOne() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            // Each worker leaves a `sleep` behind when it exits: an orphan for PID 1.
            let spec = DaemonSpec(groups: [
                GroupSpec(name: "orphaner", command: ["/bin/sh", "-c", "sleep 0.2 & exit 0"], count: 2),
                GroupSpec(name: "sleepers", command: Commands.sleepForever, count: 1),
            ])
            let (socket, pidFile, log) = (directory.file("s.sock"), directory.file("appd.pid"), directory.file("appd.log"))
            let config = directory.file("appd.json")
            try spec.render(controlSocket: socket, pidFile: pidFile, statusFile: directory.file("status"), logFile: log)
                .write(toFile: config, atomically: true, encoding: .utf8)
            let unshare = try ChildProcess.spawn(
                "/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", Binaries.appd, "--config", config],
                environment: ProcessInfo.processInfo.environment, stdout: directory.file("out"), stderr: directory.file("out"))
            // When PID 1 of a namespace dies, the kernel kills everything in it.
            defer {
                for pid in ProcFS.childPids(of: unshare.pid) { kill(pid, SIGKILL) }
                unshare.signal(SIGKILL)
                _ = Polling.blockingUntil(timeout: 5) { !unshare.isRunning }
            }
            func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            func context() -> String { "log:\n\(logText())\nunshare: \((try? String(contentsOfFile: directory.file("out"), encoding: .utf8)) ?? "")" }

            try await Polling.until(timeout: 10, "appd to be up as PID 1", context: context) {
                (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
                    && FileManager.default.fileExists(atPath: socket)
            }
            let appd = try await Polling.value(timeout: 5, "appd's pid outside the namespace", context: context) {
                ProcFS.childPids(of: unshare.pid).first
            }
            try await Polling.until(timeout: 10, "PID 1 to reap three orphans", context: context) {
                logText().components(separatedBy: "(not a worker").count - 1 >= 3
            }

            let ping = try await CommandRunner.run(
                Binaries.appctl, ["--socket", socket, "ping"], environment: ProcessInfo.processInfo.environment, in: directory)
            #expect(ping.exited(0), "\(ping)")

            kill(appd, SIGTERM)
            try await Polling.until(timeout: 10, "appd, PID 1, to stop on SIGTERM", context: context) { !unshare.isRunning }
            #expect(unshare.terminated?.exited == true && unshare.terminated?.code == 0, "\(String(describing: unshare.terminated))")
            #expect(logText().contains("appd[1] info: got SIGTERM: stopping"), "\(context())")
            #expect(logText().contains("appd[1] info: appd stopped"), "\(context())")
            #expect(!FileManager.default.fileExists(atPath: socket))
        }
    }
}
