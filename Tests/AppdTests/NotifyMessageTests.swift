import Testing
@testable import appd
import Shared

@Suite struct NotifyMessageTests {
    @Test func readsTheKeysAppdUnderstands() {
        let message = NotifyMessage(datagram: Array("READY=1\nSTATUS=serving 12 clients\nAPPSTATS={\"requests\": 3}\nMAINPID=7\n".utf8))
        #expect(message.ready)
        #expect(message.status == "serving 12 clients")
        #expect(message.appStats == .object(["requests": .number(3)]))
        #expect(message.problems.isEmpty)
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
