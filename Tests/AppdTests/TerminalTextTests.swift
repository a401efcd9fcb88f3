import Foundation
import Testing
@testable import appctl
import Shared

/// What a worker sends reaches a terminal as text, never as a command.
@Suite struct TerminalTextTests {
    @Test func controlCharactersAreSpelledOutAndTabIsKept() {
        #expect(TerminalText.escaped("plain text, ünïcödé ✓") == "plain text, ünïcödé ✓")
        #expect(TerminalText.escaped("\u{1B}]0;pwned\u{07}") == #"\x1b]0;pwned\x07"#)
        #expect(TerminalText.escaped("\u{1B}[2J") == #"\x1b[2J"#)
        #expect(TerminalText.escaped("a\tb") == "a\tb")
        #expect(TerminalText.escaped("one\ntwo\r\n") == #"one\ntwo\r\n"#)
        #expect(TerminalText.escaped("nul\u{0}del\u{7F}") == #"nul\x00del\x7f"#)
        #expect(TerminalText.escaped("csi\u{9B}31m") == #"csi\u{9b}31m"#, "a C1 CSI is one character")
        #expect(TerminalText.escaped("abc\u{202E}fed\u{2066}") == #"abc\u{202e}fed\u{2066}"#, "bidi overrides are shown")
        #expect(TerminalText.escaped(#"C:\path"#) == #"C:\path"#, "a backslash is left alone")
        for scalar in (0..<0x20).compactMap(Unicode.Scalar.init) where scalar != "\t" {
            #expect(!TerminalText.escaped(String(scalar)).unicodeScalars.contains { $0.value < 0x20 })
        }
    }

    private var hostile: StatusReport {
        let process = ProcessStatus(
            group: "web\u{1B}[31m", id: 0, pid: 42, state: .running, uptime: 3, restarts: 0,
            lastExit: .init(description: "exited 1\u{1B}[2J", status: "exit:1", at: 0, uptime: 1),
            appStats: ["requests": 3, "note\u{1B}": "\u{1B}]52;c;aGk=\u{07}", "list": ["\u{9B}1m"]],
            statusText: "\u{1B}[2Jready\nsecond line")
        let master = MasterStatus(
            pid: 1, startedAt: 0, uptime: 1, loadAverage: [0, 0, 0], groups: 1, processes: 1,
            groupSummaries: [GroupSummary(name: "web\u{07}", count: 1, running: 1, reloadable: true, state: .degraded,
                                          reason: "failed: \u{1B}[1Aoops", listen: ["unix:/x\u{1B}"],
                                          exits: [.init(key: "exit:1", description: "exited\u{1B} 1", count: 2)])])
        return StatusReport(master: master, processes: [process])
    }

    @Test func statusTablesCarryNoControlCharacterButKeepTheirValuesReadable() {
        let escaped = hostile.escapedForTerminal()
        #expect(escaped.processes[0].statusText == #"\x1b[2Jready\nsecond line"#)
        #expect(escaped.processes[0].group == #"web\x1b[31m"#)
        #expect(escaped.processes[0].appStats == ["requests": 3, #"note\x1b"#: #"\x1b]52;c;aGk=\x07"#, "list": [#"\u{9b}1m"#]])
        #expect(escaped.master?.groupSummaries[0].reason == #"failed: \x1b[1Aoops"#)
        let table = StatusTable.render(escaped, now: 10)
        #expect(!table.unicodeScalars.contains { TerminalText.needsEscape($0) && $0 != "\n" })
        #expect(table.contains(#"\x1b[2Jready\nsecond line"#))
        // The original is untouched, for --json.
        #expect(hostile.processes[0].statusText == "\u{1B}[2Jready\nsecond line")
    }

    @Test func appctlRenderersEscapeWhatTheyAreGiven() {
        let entry = LogEntry(time: 0, group: "web", id: 0, pid: 7, stream: .stdout, line: "\u{1B}]0;pwned\u{07}")
        #expect(LogLineText.line(entry).hasSuffix(#" web#0[7] stdout: \x1b]0;pwned\x07"#))
        #expect(JSONDocuments.line(entry).contains(#""line":"\u001b]0;pwned\u0007""#), "JSON stays exact")

        let aborted = GroupReloaded(group: "web", outcome: .aborted, replaced: 0, reason: "exited \u{1B}[2J",
                                    output: ["Traceback\u{1B}[31m"])
        #expect(ReloadProgressText.line(aborted) == #"web: reload aborted after 0 processes replaced: exited \x1b[2J"# + "\n" + #"  | Traceback\x1b[31m"#)
        let started = ResultText.line(for: .start(group: "web"), ControlResult(started: "w\u{1B}b"), socketPath: "/s", elapsed: 0)
        #expect(started == #"started group w\x1bb"#)
    }

    @Test func connectionEntriesAndErrorsAreEscapedToo() {
        let entry = ConnectionEntry(group: "w\u{1B}", id: 0, pid: 1, local: "a", remote: "b\u{7}", state: "ESTABLISHED",
                                    sendQueue: 0, receiveQueue: 0).escapedForTerminal()
        #expect(entry.group == #"w\x1b"# && entry.remote == #"b\x07"#)
        let error = ProtocolError(.unknownGroup, "no group named 'x\u{1B}[2J'").escapedForTerminal()
        #expect(error.message == #"no group named 'x\x1b[2J'"#)
    }
}
