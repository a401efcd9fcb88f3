@testable import DaemonShell
import Foundation
import Glibc
import Shared
@testable import SupervisorCore
import Testing

/// The orphan guard's reach beyond process groups: at EOF it SIGKILLs what
/// carries `APP_MASTER_PID=<its master>` in its environment (the fallback's
/// way to find a `setsid` escapee) and no other process.
@Suite struct OrphanGuardContainmentTests {
    /// Starts `sleep 1000` in a session of its own, no child of ours (a
    /// shell starts it in the background and exits), with
    /// `APP_MASTER_PID=masterPid`; returns its pid.
    private func escapee(masterPid: String) throws -> Int32 {
        let pipe = try Pipe.make()
        defer { FileIO.close(pipe.read) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe.write, 1)
        let arguments: [String] = ["/bin/sh", "-c", "/usr/bin/setsid /bin/sleep 1000 >/dev/null & echo $!"]
        let environment: [String] = ["APP_MASTER_PID=\(masterPid)", "PATH=/usr/bin:/bin"]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var shell: pid_t = 0
        let spawned = posix_spawn(&shell, "/bin/sh", &actions, nil, argv, envp)
        FileIO.close(pipe.write)
        try #require(spawned == 0)
        var text: [UInt8] = []
        _ = eventually { () -> Bool? in
            if case .bytes(let chunk) = FileIO.read(pipe.read, max: 64) { text += chunk }
            return text.contains(UInt8(ascii: "\n")) ? true : nil
        }
        _ = eventually { ProcessControl.reapOne(shell) }
        return try #require(Int32(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Running, not a zombie nor gone.
    private func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)] != "Z"
    }

    @Test(.timeLimit(.minutes(1))) func theGuardKillsWhatItsMasterStartedAndNothingElse() throws {
        let orphanGuard = try OrphanGuard.start()
        let ours = try escapee(masterPid: String(getpid()))
        let someoneElses = try escapee(masterPid: String(getpid()) + "0")
        defer {
            kill(ours, SIGKILL)
            kill(someoneElses, SIGKILL)
        }
        #expect(eventually { isRunning(ours) && getsid(ours) == ours ? true : nil } == true, "in a session of its own")

        orphanGuard.close()  // EOF: as if the master died
        let guardStatus = eventually { ProcessControl.reapOne(orphanGuard.pid)?.status }
        #expect(guardStatus.map { ExitStatus(waitStatus: $0) } == .exited(code: 0))
        #expect(eventually { isRunning(ours) ? nil : true } == true, "SIGKILLed by the guard")
        #expect(isRunning(someoneElses), "APP_MASTER_PID of another pid (one digit longer) is not ours")
    }
}
