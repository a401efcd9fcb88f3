import Foundation
import Testing
@testable import appctl
import Shared

/// Every example in `--help` and in the README runs as written, and none
/// kills the demo: a signal example only sends what the demo's workers
/// handle and survive (SignalPipe.handledSignals in Sources/DemoWorker:
/// USR1 is logged and ignored; TERM and INT stop them; HUP and USR2 kill
/// them by their default action), or 0, which sends nothing.
@Suite struct HelpExamplesTests {
    static let demoSurvives: Set<UnixSignal> = [.existenceCheck, .user1]

    /// `appctl status --json | jq ...` → ["status", "--json"]: the appctl
    /// part of a shell line, without what a pipe, `&&`, `||` or comment adds.
    static func appctlArguments(_ line: String) -> [String]? {
        var text = line.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("appctl ") else { return nil }
        for end in [" | ", " && ", " || ", "  #", " #"] {
            if let range = text.range(of: end) { text = String(text[..<range.lowerBound]) }
        }
        return Array(text.split(separator: " ").map(String.init).dropFirst())
    }

    static func check(_ arguments: [String], from source: String) {
        do {
            switch try CommandLineParser.parse(arguments) {
            case .run(let command):
                if case .signal(_, let signal) = command.request {
                    #expect(demoSurvives.contains(signal), "\(source): `appctl \(arguments.joined(separator: " "))` sends \(signal), which kills the demo's workers")
                }
            case .help, .version:
                break
            }
        } catch {
            Issue.record("\(source): `appctl \(arguments.joined(separator: " "))` does not parse: \(error.message)")
        }
    }

    @Test func everyHelpExampleParsesAndSparesTheDemo() {
        var checked = 0
        for subcommand in Subcommand.all {
            for example in subcommand.examples {
                guard let arguments = Self.appctlArguments(example.command) else {
                    Issue.record("\(subcommand.name): example `\(example.command)` is not an appctl command")
                    continue
                }
                Self.check(arguments, from: "appctl \(subcommand.name) --help")
                checked += 1
            }
        }
        #expect(checked >= Subcommand.all.count)
    }

    @Test func everyReadmeExampleParsesAndSparesTheDemo() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        var checked = 0
        var signals = 0
        for line in text.split(separator: "\n").map(String.init) {
            guard let arguments = Self.appctlArguments(line) else { continue }
            // `appctl stop --group queue | start queue | scale web 8`: shorthand for several commands.
            let commands = line.contains(" | ") && !line.contains("jq")
                ? line.trimmingCharacters(in: .whitespaces).components(separatedBy: "  #")[0].components(separatedBy: " | ")
                    .map { $0.hasPrefix("appctl ") ? $0 : "appctl " + $0 }.compactMap(Self.appctlArguments)
                : [arguments]
            for command in commands where !command.contains(where: { $0.hasPrefix("<") }) {  // `help <subcommand>`
                Self.check(command, from: "README.md")
                if command.first == "signal" { signals += 1 }
                checked += 1
            }
        }
        #expect(checked >= 10 && signals >= 1, "README examples found: \(checked), signal examples: \(signals)")
    }

    /// The README gives one command that runs the tests, and CI runs that
    /// same command (scripts/test.sh: the recipe tests' runtimes, then
    /// `swift test`).
    @Test func theReadmeTestCommandIsWhatCIRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let ci = try String(contentsOf: root.appendingPathComponent(".ci/run"), encoding: .utf8)
        let testLines = readme.split(separator: "\n").filter { $0.contains("# run every test") }
        #expect(testLines.count == 1, "\(testLines)")
        let command = testLines.first.map { String($0.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces) } ?? ""
        #expect(command == "scripts/test.sh", "README's test command: \(command)")
        #expect(ci.split(separator: "\n").last == "exec \(command)", ".ci/run:\n\(ci)")
        #expect(FileManager.default.isExecutableFile(atPath: root.appendingPathComponent(command).path))
    }
}
