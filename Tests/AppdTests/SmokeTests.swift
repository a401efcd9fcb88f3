import Testing
@testable import DaemonShell
import Shared

@Test func exitStatusReadsLikePeopleSpeak() {
    #expect(ExitStatus(waitStatus: 255 << 8).description == "exited 255")
    #expect(ExitStatus(waitStatus: 9).description == "killed by SIGKILL")
}
