@testable import DaemonShell
import Foundation
import Glibc
import Testing

/// The orphan guard's reach beyond process groups: at EOF it SIGKILLs what
/// carries `APP_MASTER_PID=<its master>` in its environment (the fallback's
/// way to find a `setsid` escapee) and no other process.
@Suite struct OrphanGuardContainmentTests {
    /// `sleep 1000` in a session of its own, with `APP_MASTER_PID=value`.
    private func sessionLeader(masterPid: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["/bin/sleep", "1000"]
        process.environment = ["APP_MASTER_PID": masterPid, "PATH": "/usr/bin:/bin"]
        try process.run()
        return process
    }

    @Test(.timeLimit(.minutes(1))) func theGuardKillsWhatItsMasterStartedAndNothingElse() throws {
        let orphanGuard = try OrphanGuard.start()
        let ours = try sessionLeader(masterPid: String(getpid()))
        let someoneElses = try sessionLeader(masterPid: String(getpid()) + "0")
        defer {
            if someoneElses.isRunning { kill(someoneElses.processIdentifier, SIGKILL) }
            if ours.isRunning { kill(ours.processIdentifier, SIGKILL) }
            someoneElses.waitUntilExit()
            ours.waitUntilExit()
        }
        // Both run, and setsid made each a session leader of its own (no process group of ours to kill).
        let started = MonotonicInstant.now()
        while (getsid(ours.processIdentifier) != ours.processIdentifier || getsid(someoneElses.processIdentifier) != someoneElses.processIdentifier),
              MonotonicInstant.now().seconds(since: started) < 10 { usleep(1000) }

        orphanGuard.close()  // EOF: as if the master died
        ours.waitUntilExit()
        #expect(ours.terminationReason == .uncaughtSignal && ours.terminationStatus == SIGKILL)
        let guardStatus = eventually { ProcessControl.reapOne(orphanGuard.pid)?.status }
        #expect(guardStatus.map { ExitStatus(waitStatus: $0) } == .exited(code: 0))
        #expect(someoneElses.isRunning, "APP_MASTER_PID of another pid (one digit longer) is not ours")
    }
}
