import Testing
@testable import appctl
import Shared

/// One exit code per class of mistake, and help where help is asked for.
@Suite struct CommandLineMistakesTests {
    private func parse(_ line: String) throws(appctl.UsageError) -> ParsedCommandLine {
        try CommandLineParser.parse(line.split(separator: " ").map(String.init))
    }

    private func usageError(_ line: String) -> appctl.UsageError? {
        do {
            _ = try parse(line)
            return nil
        } catch {
            return error
        }
    }

    @Test func valuesOutOfRangeAreUsageErrorsOnEitherSide() {
        #expect(usageError("scale web -1")?.message == "invalid value '-1' for '<count>': expected a non-negative integer")
        #expect(usageError("scale web 100000")?.message == "invalid value '100000' for '<count>': at most \(GroupConfig.maximumCount)")
        #expect(usageError("scale web 10000") == nil)
        #expect(usageError("logs --lines 100001")?.message == "invalid value '100001' for '--lines <n>': at most 100000")
        #expect(usageError("status --watch 86401")?.message == "invalid value '86401' for '--watch [<seconds>]': at most 86400 seconds")
        #expect(usageError("status --watch 0.05")?.message.contains("at least 0.1") == true)
        #expect(usageError("status --watch 86400") == nil)
    }

    @Test func signalZeroIsTheLivenessProbe() throws {
        guard case .run(let command) = try parse("signal web 0") else {
            Issue.record("not a command")
            return
        }
        #expect(command.request == .signal(group: "web", .existenceCheck))
        #expect(command.request.arguments["signal"] == "0")
        guard case .run(let killSpelling) = try parse("signal -0") else { return }
        #expect(killSpelling.request == .signal(group: nil, .existenceCheck))
        // The daemon reads it back, as a string or a number.
        #expect(try ControlCommand(name: "signal", members: ["group": "web", "signal": "0"]) == .signal(group: "web", .existenceCheck))
        #expect(try ControlCommand(name: "signal", members: ["signal": 0]) == .signal(group: nil, .existenceCheck))
        // A config's stopSignal may still not be 0.
        #expect(UnixSignal(name: "0") == nil)
        #expect(ResultText.line(for: command.request, .signalled(processes: 2), socketPath: "", elapsed: 0)
            == "signal 0: 2 processes of group web are alive")
        #expect(ResultText.line(for: .signal(group: nil, .existenceCheck), .signalled(processes: 1), socketPath: "", elapsed: 0)
            == "signal 0: 1 process is alive")
    }

    @Test func helpAboutHelpIsHelp() throws {
        for line in ["help --help", "help -h", "--help help"] {
            guard case .help(let text) = try parse(line) else {
                Issue.record("\(line) gives no help")
                continue
            }
            #expect(text == HelpText.tool, "\(line)")
        }
        guard case .help(let status) = try parse("help status --help") else {
            Issue.record("no help")
            return
        }
        #expect(status == HelpText.help(for: .status))
        #expect(usageError("help status logs")?.message == "unexpected argument 'logs': 'appctl help' takes one subcommand")
    }

    @Test func exitStatusHelpSaysWhatOneAndTwoCover() {
        let words = HelpText.tool.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("group already running or already stopped, no process to signal"), "\(HelpText.tool)")
        #expect(words.contains("a count over \(GroupConfig.maximumCount), --lines over 100000, --watch outside 0.1..86400"), "\(HelpText.tool)")
        for line in HelpText.tool.split(separator: "\n") { #expect(line.count <= HelpText.width, "\(line)") }
    }

}

@Suite struct SuggestionTests {
    @Test func aSwapOfNeighboursIsOneTypo() {
        #expect(Suggestion.editDistance(Array("wbe"), Array("web")) == 1)
        #expect(Suggestion.editDistance(Array("kitten"), Array("sitting")) == 3)
        #expect(Suggestion.editDistance(Array(""), Array("abc")) == 3)
        #expect(Suggestion.closest(to: "wbe", among: ["web", "queue"]) == "web")
        #expect(Suggestion.closest(to: "queu", among: ["web", "queue"]) == "queue")
        #expect(Suggestion.closest(to: "database", among: ["web", "queue"]) == nil)
        #expect(ProtocolError.unknownGroup("wbe", known: ["web", "queue"]).message == "no group named 'wbe'; did you mean 'web'?")
        #expect(ProtocolError.unknownGroup("db", known: ["web", "queue"]).message == "no group named 'db'; groups: web, queue")
        #expect(ProtocolError.unknownGroup("db", known: []).message == "no group named 'db'; no group is configured")
        let many = (1...12).map { "group\($0)" }
        #expect(ProtocolError.unknownGroup("x", known: many).message.hasSuffix("group10 and 2 more"))
    }
}
