import Testing
@testable import DaemonShell
import Shared

@Suite struct NotifyMessageTests {
    @Test func readsTheKeysAppdUnderstands() {
        let message = NotifyMessage(datagram: Array("READY=1\nSTATUS=serving 12 clients\nAPPSTATS={\"requests\": 3}\nMAINPID=7\n".utf8))
        #expect(message.ready)
        #expect(message.status == "serving 12 clients")
        #expect(message.appStats == .object(["requests": .number(3)]))
        #expect(message.problems.isEmpty)
    }

    @Test func readsWatchdogAndStopping() {
        let message = NotifyMessage(datagram: Array("WATCHDOG=1\nSTOPPING=1".utf8))
        #expect(message.watchdog && message.stopping)
        #expect(!message.ready && message.status == nil && message.problems.isEmpty)

        let plain = NotifyMessage(datagram: Array("READY=1".utf8))
        #expect(!plain.watchdog && !plain.stopping)
    }

    @Test func onlyTheValueOneSetsAFlag() {
        // systemd reads READY=, WATCHDOG= and STOPPING= as set by "1" only.
        let message = NotifyMessage(datagram: Array("READY=0\nWATCHDOG=yes\nSTOPPING=\nSTATUS=x".utf8))
        #expect(!message.ready && !message.watchdog && !message.stopping)
        #expect(message.status == "x" && message.problems.isEmpty)
        // WATCHDOG=trigger asks systemd to act as if the watchdog fired; appd keeps no such rule.
        #expect(!NotifyMessage(datagram: Array("WATCHDOG=trigger".utf8)).watchdog)
    }

    @Test func aBadLineIsReportedWhileTheGoodOnesStillCount() {
        let message = NotifyMessage(datagram: Array("STATUS=ok\nAPPSTATS=[1, 2]\ngarbage\n".utf8))
        #expect(message.status == "ok")
        #expect(message.appStats == nil)
        #expect(message.problems == [.appStatsNotAnObject, .noAssignment("garbage")])
    }

    @Test func invalidUTF8IsRefusedWhole() {
        let message = NotifyMessage(datagram: [0x52, 0x45, 0xFF, 0xFE])
        #expect(message.problems == [.notUTF8])
        #expect(!message.ready)
    }
}
