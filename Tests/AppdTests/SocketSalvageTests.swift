import Foundation
import Testing
@testable import appctl
@testable import Shared

// A config with problems must not lock appctl out of the daemon still
// running on the previous one: its controlSocket is salvaged.

private func scan(_ text: String) -> String? { ConfigLoader.scanForControlSocket(Array(text.utf8)) }

@Test func theScanFindsControlSocketInTextThatDoesNotParse() {
    #expect(scan(#"{controlSocket: "run/appd.sock", groups: [{name: "a" command: ["x"]}]}"#) == "run/appd.sock")
    #expect(scan(#"{"controlSocket": 'run/appd.sock' groups: }"#) == "run/appd.sock")
    #expect(scan("{\n  'controlSocket'  :\n  \"/run/a\\\"b.sock\",,,\n") == "/run/a\"b.sock")
    // Commented-out entries do not count; the live one does.
    #expect(scan("""
        {
          // controlSocket: "old.sock",
          /* controlSocket: "older.sock", */
          controlSocket: "live.sock",
          groups: [{name: "a" command: ["x"]}],
        """) == "live.sock")
    // An entry of the outermost object wins over one nested deeper.
    #expect(scan(#"{groups: [{controlSocket: "nested.sock"}], controlSocket: "top.sock", oops}"#) == "top.sock")
    #expect(scan(#"{groups: [{controlSocket: "nested.sock"}] oops"#) == "nested.sock")
    // A string that mentions it, or a key without a string value, is not an entry.
    #expect(scan(#"{name: "controlSocket", x: "a.sock" oops}"#) == nil)
    #expect(scan(#"{controlSocket: 3, oops}"#) == nil)
    #expect(scan(#"{controlSocketPath: "a.sock", oops}"#) == nil)
    // A string left open ends at its line.
    #expect(scan("{name: \"web,\n controlSocket: \"run/a.sock\"\n oops") == "run/a.sock")
    // Bytes that are not UTF-8 around it do not stop it.
    #expect(ConfigLoader.scanForControlSocket([0x7B, 0xFC, 0xDF] + Array(#" controlSocket: "a.sock" "#.utf8) + [0xFF]) == "a.sock")
    #expect(scan("") == nil)
}

@Test func salvageParsesFirstScansSecondAndResolvesAgainstTheConfigDirectory() {
    let salvage = { (text: String) in ConfigLoader.salvageControlSocket(from: Array(text.utf8), sourcePath: "/srv/app/appd.json") }
    // Valid JSON5, invalid config: the parsed value.
    #expect(salvage(#"{controlSocket: "run/appd.sock", groups: []}"#) == .parsed("/srv/app/run/appd.sock"))
    // Not JSON5: the scanned value.
    #expect(salvage(#"{controlSocket: "../run/appd.sock", groups: [}"#) == .scanned("/srv/run/appd.sock"))
    #expect(salvage(#"{controlSocket: "/abs/appd.sock" oops"#) == .scanned("/abs/appd.sock"))
    // Nothing to find: the daemon would use its default.
    #expect(salvage(#"{groups: []}"#) == .notFound)
    #expect(salvage(#"{groups: [}"#) == .notFound)
    #expect(salvage(#"{controlSocket: "", oops"#) == .notFound)
    #expect(salvage("[]") == .notFound)
    // The Latin-1 file of issue 9.
    #expect(ConfigLoader.salvageControlSocket(
        from: [0x7B, 0x67, 0x72, 0xFC, 0xDF, 0x65, 0x3A, 0x20, 0x31, 0x2C] + Array(#" controlSocket: "ctl.sock"}"#.utf8),
        sourcePath: "/srv/app/appd.json") == .scanned("/srv/app/ctl.sock"))
}

/// What the locator wrote to stderr.
private final class Notes {
    var lines: [String] = []
}

/// A locator whose config always fails to load, salvaging `salvaged`.
private func brokenConfigLocator(salvaged: SalvagedSocket?, notes: Notes) -> SocketLocator {
    SocketLocator(
        environment: { _ in nil },
        fileExists: { _ in false },
        loadConfig: { path throws(ConfigError) in
            throw ConfigError(problems: [
                ConfigProblem(file: path, fieldPath: "", message: "unexpected '}' (expected a value)",
                              position: SourcePosition(line: 3, column: 14)),
            ])
        },
        salvageSocket: { _ in salvaged },
        defaultSockets: { ["/default/appd.sock"] },
        warn: { notes.lines.append($0) }
    )
}

@Test func aBrokenConfigStillGivesTheSocketWithANoteOnStderr() throws {
    let notes = Notes()
    let scanned = brokenConfigLocator(salvaged: .scanned("/run/appd.sock"), notes: notes)
    #expect(try scanned.socketPath(for: .config("/etc/appd.json")) == "/run/appd.sock")
    #expect(notes.lines == [
        "appctl: /etc/appd.json cannot be used (/etc/appd.json:3:14: unexpected '}' (expected a value)); "
            + "using the controlSocket found by scanning it: /run/appd.sock\n"
            + "appctl: (appd --check --config /etc/appd.json lists every problem; --socket <path> skips the config)\n",
    ])

    let none = brokenConfigLocator(salvaged: .notFound, notes: notes)
    #expect(try none.socketPath(for: .config("/etc/appd.json")) == "/default/appd.sock")
    #expect(notes.lines.last?.contains("no controlSocket found in it, using the default: /default/appd.sock") == true)

    // A file that cannot be read at all is still an error (exit 2): likely a typo in --config.
    let unreadable = brokenConfigLocator(salvaged: nil, notes: notes)
    #expect(throws: SocketLookupError.self) { try unreadable.socketPath(for: .config("/etc/appd.json")) }
}

@Test func aRealBrokenConfigFileIsScannedForItsSocket() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("appd-salvage-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let config = directory + "/appd.json"
    try Data([0x7B, 0x0A, 0x20, 0x20, 0x67, 0x72, 0xFC, 0xDF, 0x65, 0x3A, 0x20, 0x31, 0x2C, 0x0A]
        + Array("  controlSocket: \"run/ctl.sock\",\n}\n".utf8)).write(to: URL(fileURLWithPath: config))

    let notes = Notes()
    let locator = SocketLocator(environment: { _ in nil }, fileExists: { _ in false },
                                warn: { notes.lines.append($0) })

    #expect(try locator.socketPath(for: .config(config)) == directory + "/run/ctl.sock")
    let note = try #require(notes.lines.first)
    #expect(note.hasPrefix("appctl: \(config) cannot be used (\(config):2:5: invalid UTF-8: byte 0xFC"), "\(note)")
    #expect(note.contains("using the controlSocket found by scanning it: \(directory)/run/ctl.sock"), "\(note)")

    // Missing file: the error as before.
    #expect(throws: SocketLookupError.self) { try locator.socketPath(for: .config(directory + "/missing.json")) }
}
