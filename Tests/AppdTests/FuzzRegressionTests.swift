import Foundation
import Testing
@testable import DaemonShell
@testable import Shared

// What the fuzz targets (fuzz/targets, scripts/fuzz.sh) do with one input,
// run here on every input that ever crashed one of them, and on the seed
// corpora, so `swift test` keeps them fixed without libFuzzer.
//
// A crash found by scripts/fuzz.sh goes into `crashes` below, bytes inline
// (the test target has no resources), with where it came from.

/// The config target: the loader and appctl's tolerant scan.
private func runConfigTarget(_ bytes: [UInt8]) {
    do {
        _ = ConfigLoader.summary(try ConfigLoader.parse(bytes: bytes, sourcePath: "/nonexistent-appd-fuzz/appd.json"))
    } catch {
        _ = error.description
    }
    _ = ConfigLoader.salvageControlSocket(from: bytes, sourcePath: "/nonexistent-appd-fuzz/appd.json")
}

/// The protocol target: first byte the line limit, second the read size,
/// then the stream, each line to the request, reply and JSON decoders, and
/// the hand reader of process items and done lines checked against the
/// reply decoder.
private func runProtocolTarget(_ bytes: [UInt8]) {
    guard bytes.count >= 2 else { return }
    let limit = bytes[0] < 128 ? Int(bytes[0]) + 1 : LineFramer.protocolLineLimit
    let chunk = Int(bytes[1] % 64) + 1
    var framer = LineFramer(maxLineLength: limit)
    var rest = bytes[2...]
    var lines: [[UInt8]] = []
    var overflowed = false
    while !rest.isEmpty, !overflowed {
        framer.append(rest.prefix(chunk))
        rest = rest.dropFirst(chunk)
        do {
            while let line = try framer.nextLine() { lines.append(line) }
        } catch {
            overflowed = true
        }
    }
    for line in lines {
        #expect(!line.contains(UInt8(ascii: "\n")) && line.count <= limit && !line.isEmpty)
        if let request = try? ControlRequest(line: line) { _ = request.encodedLine() }
        let reply = try? ControlReply(line: line)
        if let found = line.withUnsafeBufferPointer({ ProcessStatus.verbatimObject(inItemLine: $0, id: reply?.id ?? 1) }) {
            var copied = JSONText()
            line.withUnsafeBufferPointer { copied.raw($0, at: found.object, leavingOut: found.type) }
            var written = JSONText()
            if case .item(_, .process(let process))? = reply { _ = process.write(into: &written, asItem: false) }
            #expect(copied.bytes == written.bytes && !written.bytes.isEmpty, "a copied process object differs")
        }
        if let handRead = line.withUnsafeBufferPointer(ControlReply.readByHand(line:)) {
            #expect(handRead.encodedLine() == (try? WireJSON.decode(ControlReply.self, from: line))?.encodedLine())
        }
        _ = try? JSONValue(parsing: line)
    }
}

/// The notify target.
private func runNotifyTarget(_ bytes: [UInt8]) {
    _ = NotifyMessage(datagram: bytes).problems.map(\.description)
}

struct FuzzCrashInput: Sendable, CustomTestStringConvertible {
    var target: String
    var origin: String
    var bytes: [UInt8]
    var testDescription: String { "\(target): \(origin)" }
}

private let crashes: [FuzzCrashInput] = [
    // Issue 9: the mutation fuzzer's crash, `{grüße: 1}` in Latin-1, on
    // which Foundation's JSON5 scanner trapped (CodableUtilities.swift:685).
    FuzzCrashInput(target: "config", origin: "issue 9, Foundation's JSON5 scanner",
               bytes: [0x7B, 0x67, 0x72, 0xFC, 0xDF, 0x65, 0x3A, 0x20, 0x31, 0x7D]),
    // What fuzz/targets/config found in its first second (251 runs) when
    // built against the loader before our parser (commit 396a55b): the
    // same trap, 0xFF bytes in an unquoted key.
    FuzzCrashInput(target: "config", origin: "fuzz.sh against the JSONDecoder loader, crash-159733341fafd3240232ae900ceb66ee4f81849f",
                   bytes: [
                       0x7B, 0x67, 0x72, 0x74, 0x72, 0x75, 0x65, 0x6F, 0x75, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x70, 0x73,
                       0x3A, 0x20, 0x5B, 0x7B, 0x6E, 0x61, 0x6D, 0x65, 0x3A, 0x20, 0x22, 0x22, 0x61, 0x2C, 0x20, 0x63,
                       0x6F, 0x6D, 0x6D, 0x61, 0x65, 0x3A, 0x20, 0x22, 0x22, 0x61, 0x2C, 0x20, 0x22, 0x72, 0x75, 0x6E,
                       0x2F, 0x75, 0x6E, 0x74, 0x3A, 0x20, 0x30, 0x30, 0x37, 0x7D, 0x5D, 0x7D,
                   ]),
]

/// Both config crashes are now an error at the first byte that is not UTF-8.
@Test func theConfigCrashesAreErrorsAtTheirByte() throws {
    for crash in crashes where crash.target == "config" {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(bytes: crash.bytes, sourcePath: "/etc/appd.json")
        }
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.message.hasPrefix("invalid UTF-8: byte 0x") == true, "\(error)")
    }
    let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(bytes: crashes[1].bytes, sourcePath: "/etc/appd.json") }
    #expect(error.description.hasPrefix("/etc/appd.json:1:10: invalid UTF-8: byte 0xFF cannot start a character"))
}

@Test(arguments: crashes)
func inputsThatOnceCrashedNoLongerDo(_ crash: FuzzCrashInput) {
    switch crash.target {
    case "config": runConfigTarget(crash.bytes)
    case "protocol": runProtocolTarget(crash.bytes)
    case "notify": runNotifyTarget(crash.bytes)
    default: Issue.record("unknown target \(crash.target)")
    }
}

/// fuzz/corpus/<target>/*, found from this file's place in the repository.
private func seedCorpus(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fuzz/corpus/\(target)").standardizedFileURL
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    return try names.map { ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0)))) }
}

@Test(arguments: ["config", "protocol", "notify"])
func seedCorporaGoThroughTheirTargets(_ target: String) throws {
    let seeds = try seedCorpus(target)
    #expect(seeds.count >= 20, "the seed corpus of \(target) is a few dozen files")
    for seed in seeds {
        switch target {
        case "config": runConfigTarget(seed.bytes)
        case "protocol": runProtocolTarget(seed.bytes)
        default: runNotifyTarget(seed.bytes)
        }
    }
}
