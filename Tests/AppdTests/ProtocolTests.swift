import Testing
@testable import Shared

// MARK: - Framing

private func lines(_ framer: inout LineFramer) throws -> [String] {
    var result: [String] = []
    while let line = try framer.nextLine() { result.append(String(decoding: line, as: UTF8.self)) }
    return result
}

@Test func framerJoinsALineSplitAcrossChunks() throws {
    var framer = LineFramer()
    framer.append(Array(#"{"id": 1, "cm"#.utf8))
    #expect(try lines(&framer) == [])
    #expect(!framer.isAtLineBoundary)
    framer.append(Array(#"d": "ping"}"#.utf8))
    #expect(try lines(&framer) == [])
    framer.append(Array("\n".utf8))
    #expect(try lines(&framer) == [#"{"id": 1, "cmd": "ping"}"#])
    #expect(framer.isAtLineBoundary)
}

@Test func framerYieldsManyLinesFromOneChunkInOrder() throws {
    var framer = LineFramer()
    framer.append(Array((1...500).map { "line \($0)\n" }.joined().utf8))
    let taken = try lines(&framer)
    #expect(taken.count == 500)
    #expect(taken.first == "line 1" && taken.last == "line 500")
}

@Test func framerDropsCarriageReturnsAndSkipsBlankLines() throws {
    var framer = LineFramer()
    framer.append(Array("ping\r\n\r\n\npong\n".utf8))
    #expect(try lines(&framer) == ["ping", "pong"])
}

@Test func framerKeepsACarriageReturnSplitFromItsNewline() throws {
    var framer = LineFramer()
    framer.append(Array("ping\r".utf8))
    framer.append(Array("\n".utf8))
    #expect(try lines(&framer) == ["ping"])
}

@Test func framerAcceptsALineOfExactlyTheLimit() throws {
    var framer = LineFramer(maxLineLength: 8)
    framer.append(Array("12345678\n".utf8))
    #expect(try lines(&framer) == ["12345678"])
}

@Test func framerReportsAnOverlongPartialLineBeforeItsNewlineArrives() throws {
    var framer = LineFramer(maxLineLength: 8)
    framer.append(Array("ok\n12345".utf8))
    framer.append(Array("6789".utf8))
    // The complete line before it is still delivered, then the error.
    #expect(try framer.nextLine() == Array("ok".utf8))
    #expect(throws: LineTooLong(limit: 8)) { try framer.nextLine() }
    // Nothing more is buffered or delivered after the overflow.
    framer.append(Array("\nlater\n".utf8))
    #expect(throws: LineTooLong(limit: 8)) { try framer.nextLine() }
}

@Test func framerReportsAnOverlongCompleteLine() throws {
    var framer = LineFramer(maxLineLength: 8)
    framer.append(Array("123456789\nnext\n".utf8))
    #expect(throws: LineTooLong(limit: 8)) { try framer.nextLine() }
}

@Test func framerOverflowsOneMebibyteFedInSmallReads() throws {
    var framer = LineFramer()
    let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
    for _ in 0..<16 { framer.append(chunk) }
    #expect(try framer.nextLine() == nil)  // exactly 1 MiB so far: still allowed
    framer.append([UInt8(ascii: "x")])
    #expect(throws: LineTooLong(limit: LineFramer.protocolLineLimit)) { try framer.nextLine() }
}

// MARK: - Request decoding

/// The request a line decodes to, or the rejection as (id, code, message).
private func decode(_ line: String) -> Result<ControlRequest, RejectedRequest> {
    do {
        return .success(try ControlRequest(line: Array(line.utf8)))
    } catch {
        return .failure(error)
    }
}

private func command(_ line: String) -> ControlCommand? {
    try? decode(line).get().command
}

private func rejection(_ line: String) -> RejectedRequest? {
    if case .failure(let rejected) = decode(line) { return rejected }
    return nil
}

@Test func decodesEveryCommand() {
    #expect(command(#"{"id":1,"cmd":"ping"}"#) == .ping)
    #expect(command(#"{"id":1,"cmd":"version"}"#) == .version)
    #expect(command(#"{"id":1,"cmd":"status"}"#) == .status(group: nil, watch: nil))
    #expect(command(#"{"id":1,"cmd":"status","group":"web","watch":1.5}"#) == .status(group: "web", watch: 1.5))
    #expect(command(#"{"id":1,"cmd":"connections","group":"web"}"#) == .connections(group: "web"))
    #expect(command(#"{"id":1,"cmd":"reload"}"#) == .reload(group: nil))
    #expect(command(#"{"id":1,"cmd":"restart","group":"queue"}"#) == .restart(group: "queue"))
    #expect(command(#"{"id":1,"cmd":"stop"}"#) == .stop(group: nil))
    #expect(command(#"{"id":1,"cmd":"stop","group":null}"#) == .stop(group: nil))
    #expect(command(#"{"id":1,"cmd":"start","group":"web"}"#) == .start(group: "web"))
    #expect(command(#"{"id":1,"cmd":"scale","group":"web","count":3}"#) == .scale(group: "web", count: 3))
    #expect(command(#"{"id":1,"cmd":"scale","group":"web","count":0}"#) == .scale(group: "web", count: 0))
    #expect(command(#"{"id":1,"cmd":"signal","signal":"HUP"}"#) == .signal(group: nil, .hangup))
    #expect(command(#"{"id":1,"cmd":"signal","group":"web","signal":"SIGUSR2"}"#) == .signal(group: "web", .user2))
    #expect(command(#"{"id":1,"cmd":"signal","signal":15}"#) == .signal(group: nil, .terminate))
    #expect(command(#"{"id":1,"cmd":"logs"}"#) == .logs(LogFilter(), follow: false, lines: 100))
    #expect(command(#"{"id":1,"cmd":"logs","group":"web","follow":true,"lines":5}"#) == .logs(LogFilter(group: "web"), follow: true, lines: 5))
    #expect(command(#"{"id":1,"cmd":"logs","group":"web","workerId":2,"stream":"appd"}"#)
        == .logs(LogFilter(group: "web", id: 2, stream: .appd), follow: false, lines: 100))
    #expect(command(#"{"id":1,"cmd":"logs","workerId":null,"stream":null}"#) == .logs(LogFilter(), follow: false, lines: 100))
    #expect(command(#"{"id":1,"cmd":"reopenLogs"}"#) == .reopenLogs)
}

@Test func keepsTheIdAndToleratesWhitespace() throws {
    let request = try decode("  { \"cmd\" : \"ping\" , \"id\" : 42 }  ").get()
    #expect(request.id == 42)
}

@Test func rejectsTextThatIsNotJSONWithoutAnId() {
    let rejected = rejection(#"{"id": 1, "cmd": "ping""#)
    #expect(rejected?.id == nil)
    #expect(rejected?.error.code == .badRequest)
    #expect(rejected?.error.message.contains("malformed JSON") == true)
}

@Test func rejectsJSONThatIsNotAnObject() {
    let rejected = rejection(#"["ping"]"#)
    #expect(rejected?.id == nil)
    #expect(rejected?.error == ProtocolError(.badRequest, "a request must be a JSON object, got an array"))
}

@Test func rejectsAMissingOrIllTypedId() {
    #expect(rejection(#"{"cmd":"ping"}"#)?.error == ProtocolError(.badRequest, "missing 'id': every request needs an integer id"))
    #expect(rejection(#"{"id":"1","cmd":"ping"}"#)?.error == ProtocolError(.badRequest, "'id' must be an integer, got a string"))
    #expect(rejection(#"{"id":1.5,"cmd":"ping"}"#)?.error.message == "'id' must be an integer, got a number")
}

@Test func rejectsAMissingOrIllTypedCommandUnderItsId() {
    let missing = rejection(#"{"id":7}"#)
    #expect(missing?.id == 7)
    #expect(missing?.error.code == .badRequest)
    #expect(missing?.error.message.contains("'cmd'") == true)
    #expect(rejection(#"{"id":7,"cmd":3}"#)?.error == ProtocolError(.badRequest, "'cmd' must be a string, got a number"))
}

@Test func rejectsAnUnknownCommand() {
    let rejected = rejection(#"{"id":2,"cmd":"explode"}"#)
    #expect(rejected?.id == 2)
    #expect(rejected?.error.code == .unknownCommand)
    #expect(rejected?.error.message.hasPrefix("unknown command 'explode'") == true)
}

@Test func rejectsWrongTypesNamingTheField() {
    let cases: [(String, String)] = [
        (#"{"id":1,"cmd":"status","group":3}"#, "'group' must be a non-empty string, got a number"),
        (#"{"id":1,"cmd":"status","group":""}"#, "'group' must be a non-empty string, got a string"),
        (#"{"id":1,"cmd":"status","watch":"2"}"#, "'watch' must be a number of seconds, got a string"),
        (#"{"id":1,"cmd":"scale","group":"web","count":"3"}"#, "'count' must be a non-negative integer, got a string"),
        (#"{"id":1,"cmd":"scale","group":"web","count":2.5}"#, "'count' must be a non-negative integer, got 2.5"),
        (#"{"id":1,"cmd":"logs","follow":"yes"}"#, "'follow' must be true or false, got a string"),
        (#"{"id":1,"cmd":"logs","workerId":0}"#, "'workerId' needs 'group': a worker id is one of a group's"),
        (#"{"id":1,"cmd":"logs","group":"web","workerId":"0"}"#, "'workerId' must be a non-negative integer, got a string"),
        (#"{"id":1,"cmd":"logs","stream":1}"#, #"'stream' must be one of "stdout", "stderr", "appd", got a number"#),
        (#"{"id":1,"cmd":"signal","signal":true}"#, "'signal' must be a signal name or number, got a boolean"),
        (#"{"id":1,"cmd":"scale","count":3}"#, "missing 'group': 'scale' needs the name of a group"),
        (#"{"id":1,"cmd":"scale","group":"web"}"#, "missing 'count': 'scale' needs a non-negative integer"),
        (#"{"id":1,"cmd":"start"}"#, "missing 'group': 'start' needs the name of a group"),
        (#"{"id":1,"cmd":"signal"}"#, #"missing 'signal': give a name such as "HUP" or a number"#),
    ]
    for (line, message) in cases {
        #expect(rejection(line)?.error == ProtocolError(.badRequest, message), "\(line)")
        #expect(rejection(line)?.id == 1)
    }
}

@Test func rejectsOutOfRangeValuesAsInvalidArguments() {
    #expect(rejection(#"{"id":1,"cmd":"scale","group":"web","count":-1}"#)?.error
        == ProtocolError(.invalidArgument, "'count' must be a non-negative integer, got -1"))
    #expect(rejection(#"{"id":1,"cmd":"logs","lines":-5}"#)?.error
        == ProtocolError(.invalidArgument, "'lines' must be a non-negative integer, got -5"))
    #expect(rejection(#"{"id":1,"cmd":"logs","stream":"err"}"#)?.error
        == ProtocolError(.invalidArgument, #"'stream' must be one of "stdout", "stderr", "appd", got "err""#))
    #expect(rejection(#"{"id":1,"cmd":"signal","signal":"BOGUS"}"#)?.error
        == ProtocolError(.invalidArgument, "'signal': unknown signal 'BOGUS'"))
    #expect(rejection(#"{"id":1,"cmd":"signal","signal":99}"#)?.error.code == .invalidArgument)
    #expect(rejection(#"{"id":1,"cmd":"status","watch":0}"#)?.error.code == .invalidArgument)
    #expect(rejection(#"{"id":1,"cmd":"status","watch":1e300}"#)?.error.code == .invalidArgument)
    #expect(rejection(#"{"id":1,"cmd":"scale","group":"web","count":10001}"#)?.error
        == ProtocolError(.invalidArgument, "'count' must be at most 10000, got 10001"))
}

@Test func rejectsUnknownFieldsSoATypoCannotStopTheDaemon() {
    #expect(rejection(#"{"id":1,"cmd":"stop","grop":"web"}"#)?.error
        == ProtocolError(.badRequest, "unknown field 'grop' for command 'stop' (it takes 'group')"))
    #expect(rejection(#"{"id":1,"cmd":"ping","group":"web"}"#)?.error.message
        == "unknown field 'group' for command 'ping' (it takes no arguments)")
}

@Test func requestEncodingRoundTripsForEveryCommand() throws {
    let commands: [ControlCommand] = [
        .ping, .version, .status(group: nil, watch: nil), .status(group: "web", watch: 0.5), .connections(group: "web"),
        .reload(group: nil), .restart(group: "q"), .stop(group: nil), .stop(group: "web"), .start(group: "web"),
        .scale(group: "web", count: 4), .signal(group: nil, .user1), .signal(group: "web", UnixSignal(number: 40)),
        .logs(LogFilter(), follow: true, lines: 10), .logs(LogFilter(group: "web", id: 3, stream: .stderr), follow: false, lines: 0),
        .reopenLogs,
    ]
    for (index, command) in commands.enumerated() {
        var line = ControlRequest(id: index, command: command).encodedLine()
        #expect(line.last == UInt8(ascii: "\n"))
        line.removeLast()
        #expect(try ControlRequest(line: line) == ControlRequest(id: index, command: command))
    }
}

@Test func requestLinesAreWhatTheEncoderWrites() throws {
    let odd = "w\"e/b\\ é\t\u{1}"
    let commands: [ControlCommand] = [
        .ping, .version, .status(group: nil, watch: nil), .status(group: odd, watch: 0.1), .status(group: "web", watch: 2.5),
        .connections(group: odd), .reload(group: nil), .restart(group: "q"), .stop(group: nil), .start(group: "web"),
        .scale(group: "web", count: 100_000), .signal(group: nil, .user1), .logs(LogFilter(), follow: true, lines: 10),
        .logs(LogFilter(group: odd, id: 3, stream: .stderr), follow: false, lines: 0), .reopenLogs,
        .describe(group: odd), .health, .metrics,
    ]
    for (index, command) in commands.enumerated() {
        var members = command.arguments
        members["id"] = .number(Double(index - 3))
        members["cmd"] = .string(command.name)
        let viaEncoder = try WireJSON.encode(JSONValue.object(members)) + [UInt8(ascii: "\n")]
        #expect(ControlRequest(id: index - 3, command: command).encodedLine() == viaEncoder, "\(command)")
    }
}

@Test func requestEncodingIsCompactAndSorted() {
    let line = ControlRequest(id: 3, command: .scale(group: "web", count: 2)).encodedLine()
    #expect(String(decoding: line, as: UTF8.self) == #"{"cmd":"scale","count":2,"group":"web","id":3}"# + "\n")
}

// MARK: - Replies

private func roundTrip(_ reply: ControlReply) throws -> ControlReply {
    var line = reply.encodedLine()
    #expect(line.last == UInt8(ascii: "\n"))
    #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
    line.removeLast()
    return try ControlReply(line: line)
}

private let sampleProcess = ProcessStatus(
    group: "web", id: 1, pid: 4711, state: .running, uptime: 192.5, restarts: 2,
    lastExit: .init(.exited(code: 3), at: 1_700_000_000, uptime: 4), rss: 14_000_000, cpu: 1.5, fds: 12, threads: 3,
    tcp: ["established": 3], appStats: ["requests": 120, "errors": ["timeouts": 1]], statusText: "serving"
)

@Test func everyReplyShapeRoundTrips() throws {
    let master = MasterStatus(
        pid: 42, startedAt: 1_700_000_000, uptime: 3600, loadAverage: [0.5, 0.25, 0.125], groups: 1, processes: 2,
        rss: 8_000_000,
        groupSummaries: [GroupSummary(
            name: "web", count: 2, running: 2, reloadable: true, state: .running, listen: ["tcp://127.0.0.1:8080"],
            exits: [.init(.exited(code: 3), count: 2), .init(.killed(signal: .kill), count: 1)])]
    )
    let replies: [ControlReply] = [
        .item(id: 1, .master(master)),
        .item(id: 1, .process(sampleProcess)),
        .item(id: 1, .process(ProcessStatus(group: "q", id: 0, pid: nil, state: .backoff, uptime: nil, restarts: 9,
                                            lastExit: nil, backoffRemaining: 1.5))),
        .item(id: 1, .snapshotEnd(SnapshotEnd(processes: 2))),
        .item(id: 2, .connection(ConnectionEntry(group: "web", id: 0, pid: 4711, local: "127.0.0.1:8080",
                                                 remote: "127.0.0.1:51234", state: "ESTABLISHED", sendQueue: 0, receiveQueue: 5))),
        .item(id: 3, .replaced(ProcessReplaced(group: "web", id: 0, oldPid: 4711, newPid: 4790))),
        .item(id: 3, .reloaded(GroupReloaded(group: "web", outcome: .aborted, replaced: 1, reason: "not ready within 30s"))),
        .item(id: 4, .log(LogEntry(time: 1_700_000_000.25, group: "web", id: 0, pid: 4711, stream: .stderr, line: "oops \"quoted\" é"))),
        .done(id: 1, .status(processes: 2)),
        .done(id: 5, .version),
        .done(id: 6, .restarting),
        .error(id: 7, .unknownGroup("wbe")),
        .error(id: nil, ProtocolError(.badRequest, "malformed JSON: not a valid JSON text")),
    ]
    for reply in replies {
        #expect(try roundTrip(reply) == reply)
    }
}

@Test func replyLinesHaveTheDocumentedShape() {
    func text(_ reply: ControlReply) -> String { String(decoding: reply.encodedLine().dropLast(), as: UTF8.self) }
    #expect(text(.done(id: 1, .pong)) == #"{"done":true,"id":1,"ok":true,"result":{"pong":true}}"#)
    #expect(text(.done(id: 2, .version)) == #"{"done":true,"id":2,"ok":true,"result":{"protocol":1,"version":"0.1.0"}}"#)
    #expect(text(.error(id: nil, ProtocolError(.tooLarge, "x")))
        == #"{"done":true,"error":{"code":"too_large","message":"x"},"id":null,"ok":false}"#)
    #expect(text(.item(id: 3, .replaced(ProcessReplaced(group: "web", id: 0, oldPid: 1, newPid: 2))))
        == #"{"id":3,"item":{"group":"web","id":0,"newPid":2,"oldPid":1,"type":"replaced"},"ok":true}"#)
}

@Test func processItemsAlwaysCarryPidUptimeAndLastExitEvenWhenNull() {
    let idle = ProcessStatus(group: "q", id: 0, pid: nil, state: .stopped, uptime: nil, restarts: 0, lastExit: nil)
    let text = String(decoding: ControlReply.item(id: 1, .process(idle)).encodedLine(), as: UTF8.self)
    #expect(text.contains(#""pid":null"#))
    #expect(text.contains(#""uptime":null"#))
    #expect(text.contains(#""lastExit":null"#))
    #expect(!text.contains("rss"))  // optional figures are left out, not null
}

@Test func repliesFromANewerDaemonStillDecode() throws {
    // Unknown members are ignored, an unknown item type is kept whole, and an
    // unknown error code is still an error.
    let process = #"{"id":1,"ok":true,"item":{"type":"process","group":"web","id":0,"pid":5,"state":"running","#
        + #""uptime":1,"restarts":0,"lastExit":null,"ioBytes":12345}}"#
    guard case .item(1, .process(let item)) = try ControlReply(line: Array(process.utf8)) else {
        Issue.record("not a process item")
        return
    }
    #expect(item.pid == 5 && item.rss == nil)
    let future = #"{"id":1,"ok":true,"item":{"type":"gauge","value":3}}"#
    #expect(try ControlReply(line: Array(future.utf8)) == .item(id: 1, .unknown(type: "gauge", ["type": "gauge", "value": 3])))
    let error = #"{"id":1,"ok":false,"done":true,"error":{"code":"quota","message":"later"}}"#
    #expect(try ControlReply(line: Array(error.utf8)) == .error(id: 1, ProtocolError(.init(rawValue: "quota"), "later")))
}

@Test func aReplyThatCannotBeEncodedBecomesAnInternalError() throws {
    var broken = sampleProcess
    broken.cpu = .nan
    let reply = try roundTrip(.item(id: 9, .process(broken)))
    guard case .error(9, let error) = reply else {
        Issue.record("expected an error, got \(reply)")
        return
    }
    #expect(error.code == .internal)
}

@Test func malformedRepliesAreReported() {
    #expect(throws: MalformedReply.self) { try ControlReply(line: Array("hello".utf8)) }
    #expect(throws: MalformedReply.self) { try ControlReply(line: Array(#"{"id":1,"ok":true}"#.utf8)) }
}

@Test func jsonValueKeepsTypesApartAndWritesWholeNumbersAsIntegers() throws {
    let value = try JSONValue(parsing: Array(#"{"a":true,"b":1,"c":1.5,"d":null,"e":[1,"x"]}"#.utf8))
    #expect(value == ["a": true, "b": 1, "c": 1.5, "d": nil, "e": [1, "x"]])
    #expect(value["a"]?.intValue == nil)
    #expect(value["b"]?.boolValue == nil)
    #expect(String(decoding: try WireJSON.encode(value), as: UTF8.self) == #"{"a":true,"b":1,"c":1.5,"d":null,"e":[1,"x"]}"#)
}

@Test func handWrittenProcessLinesMatchTheEncoderByteForByte() throws {
    let full = ProcessStatus(
        group: "web \"eu\"/1", id: 7, pid: 4711, state: .running, uptime: 12.5, restarts: 3,
        lastExit: ProcessStatus.LastExit(.killed(signal: .kill), at: 1_795_782_710.631, uptime: 0.25),
        backoffRemaining: 1.0, rss: 14_680_064, cpu: 99.9, fds: 12, threads: 2,
        tcp: ["established": 3, "close_wait": 1],
        appStats: .object(["requests": .number(120), "nested": .object(["b": .bool(true), "a": .array([.null, .string("x\n")])])]),
        statusText: "serving\tall")
    let bare = ProcessStatus(group: "q", id: 0, pid: nil, state: .stopped, uptime: nil, restarts: 0,
                             lastExit: ProcessStatus.LastExit(description: "failed to start", status: nil, at: 5, uptime: 0))
    for process in [full, bare] {
        let viaEncoder = try WireJSON.encode(ControlReply.item(id: 42, .process(process))) + [UInt8(ascii: "\n")]
        #expect(process.replyLine(id: 42) == viaEncoder,
                "\(String(decoding: process.replyLine(id: 42) ?? [], as: UTF8.self))\n\(String(decoding: viaEncoder, as: UTF8.self))")
    }
    var infinite = full
    infinite.cpu = .infinity
    #expect(infinite.replyLine(id: 1) == nil, "a non-finite figure falls back to the encoder")
    // A slice's lines in one buffer: the same bytes, the encoder's error line for the row it cannot write.
    let rows = [full, infinite, bare]
    #expect(ProcessStatus.itemLines(rows, id: 3) == rows.flatMap { ControlReply.item(id: 3, .process($0)).encodedLine() })
}

/// Process and done lines go through `JSONReader` instead of the decoder.
/// Where it reads one, the reply must be the decoder's, to the bytes it
/// re-encodes to; the daemon's own lines and the same in other spellings
/// must take that path, and what it leaves to the decoder must stay the
/// decoder's.
@Test func handReadProcessAndDoneLinesMatchTheDecoder() throws {
    let bare = ProcessStatus(group: "q", id: 0, pid: nil, state: .stopped, uptime: nil, restarts: 0,
                             lastExit: ProcessStatus.LastExit(description: "failed to start", status: nil, at: 5, uptime: 0))
    let backoff = ProcessStatus(group: "q", id: 3, pid: nil, state: .backoff, uptime: nil, restarts: 9, lastExit: nil,
                                backoffRemaining: 1.5)
    var requested = sampleProcess
    requested.lastExit?.requested = "reload"
    var daemonLines = [sampleProcess, bare, backoff, requested].map {
        String(decoding: ControlReply.item(id: 7, .process($0)).encodedLine().dropLast(), as: UTF8.self)
    }
    daemonLines.append(String(decoding: try WireJSON.encode(ControlReply.item(id: 1, .process(sampleProcess))), as: UTF8.self))
    let results: [ControlResult] = [
        .pong, .version, .status(processes: 1000), .connections(3), .reloaded(groups: 2), .restarting,
        .stopped(group: "web"), .daemonStopping, .started(group: "web"), .scaled(group: "web", count: 4),
        .signalled(processes: 2), .logs(lines: 100), .reopenedLogs(files: 3),
        .health(healthy: false, summary: "web 3/4", problems: ["web: 3/4 ready", "q: \"stopped\""]),
        .health(healthy: true, summary: "all ready", problems: []), .metrics(bytes: 5120),
        // Every member set: one the hand reader skipped would differ.
        ControlResult(pong: true, version: "0.1.0", protocolVersion: 1, processes: 2, connections: 3, groups: 4,
                      stopped: "a", stopping: false, started: "b", group: "c", count: 5, signalled: 6, lines: 7,
                      reopened: 8, healthy: true, summary: "d", problems: ["e"], bytes: 9),
    ]
    daemonLines += results.map { String(decoding: ControlReply.done(id: 4, $0).encodedLine().dropLast(), as: UTF8.self) }

    let item = #""group":"w","id":0,"pid":null,"restarts":0,"state":"running","uptime":null,"lastExit":null"#
    func line(_ members: String, envelope: String = "") -> String {
        #"{"id":5,"ok":true\#(envelope),"item":{"type":"process",\#(members)}}"#
    }
    let alsoHandRead = [
        #" { "item" : { "lastExit" : null , "uptime" : 2 , "type" : "process" , "state" : "starting" , "restarts" : 1 ,"#
            + #" "pid" : 9 , "id" : 2 , "group" : "w" } , "ok" : true , "id" : -3 } "#,
        line(item, envelope: #","done":false,"result":{"x":[1,2,{"y":null}]},"note":"\u00e9""#),
        line(item + #","ioBytes":12345,"future":{"nested":[true,false,null,-0.5e-3]}"#),
        line(#""group":"w\u00e9b\n\"x\"\/ \ud83d\ude00 é","id":0,"pid":null,"restarts":0,"state":"running","uptime":null,"#
            + #""lastExit":{"at":1.5E9,"description":"exited 3","status":"exit:3","uptime":0,"requested":null}"#),
        line(item + #","rss":18446744073709551615,"cpu":1E2,"fds":0,"threads":null,"tcp":{},"statusText":"","appStats":null"#),
        line(item + #","cpu":-0.0,"backoffRemaining":0.1,"appStats":{"a":[1.25,"x",{"b":{}}],"c":9007199254740993}"#),
        line(item, envelope: #","done":true"#),
        #"{"done":true,"id":3,"ok":true}"#,
        #"{"done":true,"id":3,"ok":true,"result":null}"#,
        #"{"result":{"future":[1],"pong":true,"count":null},"ok":true,"done":true,"id":3}"#,
    ]
    let leftToTheDecoder = [
        line(#""group":"w","id":1.0,"pid":null,"restarts":0,"state":"running","uptime":null,"lastExit":null"#),
        line(item + #","group":"x""#),
        line(item + #","extra":1,"extra":2"#),
        line(item + #","statusText":"\ud800""#),
        line(item + #","statusText":"tab\#there""#),
        line(item + #","cpu":1e400"#),
        line(item + #","cpu":5e-324"#),
        line(item + #","pid":2147483648"#),
        line(item + #","rss":-1"#),
        line(item + #","threads":01"#),
        line(item + #","appStats":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40)),
        #"{"done":true,"id":3,"ok":true,"result":{"processes":"2"}}"#,
        #"{"done":true,"id":3,"ok":true,"result":[]}"#,
        #"{"done":1,"id":3,"ok":true,"result":{}}"#,
        line(item) + " x",
        #"{"id":1,"ok":true,"item":{"type":"master","pid":1}}"#,
        #"{"id":null,"ok":true,"item":{"type":"process",\#(item)}}"#,
        #"{"id":1,"ok":false,"item":{"type":"process",\#(item)},"error":{"code":"x","message":"y"}}"#,
    ]
    var invalidUTF8 = Array(line(item + #","statusText":"é""#).utf8)
    invalidUTF8[invalidUTF8.firstIndex(of: 0xC3)!] = 0xFF

    var cases = (daemonLines + alsoHandRead).map { (Array($0.utf8), true) }
    cases += leftToTheDecoder.map { (Array($0.utf8), false) }
    cases.append((invalidUTF8, false))
    for (bytes, expectHandRead) in cases {
        let text = String(decoding: bytes, as: UTF8.self)
        let handRead = bytes.withUnsafeBufferPointer(ControlReply.readByHand(line:))
        #expect((handRead != nil) == expectHandRead, "\(text)")
        let decoded = try? WireJSON.decode(ControlReply.self, from: bytes)
        if let handRead {
            #expect(handRead == decoded, "\(text)")
            #expect(handRead.encodedLine() == decoded?.encodedLine(), "\(text)")
        }
        #expect((try? ControlReply(line: bytes)) == decoded, "\(text)")
    }
}

/// `appctl status --json` copies a process object in appd's own shape as it
/// came: the copy must be what reading the line and writing the object
/// again gives, and every other line must be left to the reader.
@Test func verbatimProcessObjectsAreWhatReadingAndWritingAgainGive() throws {
    // Every member `verbatimObject` takes set (a member it does not know
    // would make it refuse appd's own lines, and fail this test).
    var everyMember = sampleProcess
    everyMember.appStats = nil
    everyMember.backoffRemaining = 0.25
    everyMember.lastExit?.requested = "reload"
    everyMember.tcp = ["close_wait": 1, "established": 3, "time_wait": 12]
    var withoutAppStats = sampleProcess
    withoutAppStats.appStats = nil
    var figures = [everyMember, withoutAppStats]
    figures.append(ProcessStatus(group: "q", id: 0, pid: nil, state: .stopped, uptime: nil, restarts: 0, lastExit: nil))
    figures.append(ProcessStatus(group: "q-1.x", id: 12, pid: 2_147_483_647, state: .backoff, uptime: 1_795_782_710.631,
                                 restarts: 9, lastExit: .init(description: "failed to start", status: nil, at: 5, uptime: 0),
                                 rss: 0, cpu: -0.0, fds: 0, threads: 1, tcp: [:]))
    for value in [0.1, 99.9, 123_456.789_012_345, 999_999_999_999_999, 1e-7, 2e20] {
        figures.append(ProcessStatus(group: "n", id: 1, pid: 3, state: .running, uptime: value, restarts: 0, lastExit: nil, cpu: value))
    }
    for process in figures {
        let line = ControlReply.item(id: 1, .process(process)).encodedLine().dropLast()
        guard case .item(1, .process(let read)) = try ControlReply(line: Array(line)) else {
            Issue.record("not read back: \(String(decoding: line, as: UTF8.self))")
            continue
        }
        var written = JSONText()
        #expect(read.write(into: &written, asItem: false))
        var copied = JSONText()
        let found = Array(line).withUnsafeBufferPointer { bytes in
            ProcessStatus.verbatimObject(inItemLine: bytes, id: 1).map { copied.raw(bytes, at: $0.object, leavingOut: $0.type) }
        }
        // 1e-7 and 2e20 are written with an exponent: left to the reader.
        let exponent = [1e-7, 2e20].contains(process.cpu ?? 0)
        #expect((found != nil) == !exponent, "\(String(decoding: line, as: UTF8.self))")
        if found != nil { #expect(copied.bytes == written.bytes, "\(String(decoding: copied.bytes, as: UTF8.self))") }
    }

    let appds = String(decoding: ControlReply.item(id: 1, .process(everyMember)).encodedLine().dropLast(), as: UTF8.self)
    let bare = #"{"id":1,"item":{"group":"w","id":0,"lastExit":null,"pid":null,"restarts":0,"state":"running","type":"process","uptime":null},"ok":true}"#
    func replacing(_ old: String, _ new: String) -> String { bare.replacingOccurrences(of: old, with: new) }
    let leftToTheReader = [
        appds.replacingOccurrences(of: #"{"id":1,"#, with: #"{"id":2,"#),
        bare + " ",
        " " + bare,
        replacing(#""ok":true"#, #""ok":true,"done":false"#),
        replacing(#""group":"w","#, #""group":"w","future":1,"#),
        replacing(#""group":"w","#, #""appStats":{"a":1},"group":"w","#),
        replacing(#""group":"w","#, #""group":"w\u0041","#),
        replacing(#""group":"w","#, #""group":"wé","#),
        replacing(#""group":"w","#, #""group": "w","#),
        replacing(#""group":"w","id":0,"#, #""id":0,"group":"w","#),
        replacing(#""group":"w","#, #""group":"w","group":"x","#),
        replacing(#""group":"w","#, ""),
        replacing(#""type":"process","#, ""),
        replacing(#""type":"process""#, #""type":"master""#),
        replacing(#""state":"running""#, #""state":"sleeping""#),
        replacing(#""uptime":null"#, #""uptime":1.50"#),
        replacing(#""uptime":null"#, #""uptime":1.0"#),
        replacing(#""uptime":null"#, #""uptime":1e2"#),
        replacing(#""uptime":null"#, #""uptime":01"#),
        replacing(#""uptime":null"#, #""uptime":"1""#),
        replacing(#""pid":null"#, #""pid":2147483648"#),
        replacing(#""pid":null"#, #""pid":-0"#),
        replacing(#""restarts":0"#, #""restarts":1.0"#),
        replacing(#""restarts":0"#, #""restarts":12345678901234567890"#),
        replacing(#""group":"w","#, #""fds":null,"group":"w","#),
        replacing(#""restarts":0,"#, #""restarts":0,"rss":-1,"#),
        replacing(#""state":"running","#, #""state":"running","tcp":{"b":1,"a":2},"#),
        replacing(#""state":"running","#, #""state":"running","tcp":{"a":1,"a":2},"#),
        replacing(#""lastExit":null"#, #""lastExit":{"at":1,"description":"x","uptime":0}"#),
        replacing(#""lastExit":null"#, #""lastExit":{"at":1,"description":"x","status":null,"uptime":0,"more":1}"#),
    ]
    for line in leftToTheReader {
        let taken = Array(line.utf8).withUnsafeBufferPointer { ProcessStatus.verbatimObject(inItemLine: $0, id: 1) }
        #expect(taken == nil, "\(line)")
    }
    let accepted = replacing(#""lastExit":null"#, #""lastExit":{"at":1,"description":"x","status":null,"uptime":0}"#)
    #expect(Array(accepted.utf8).withUnsafeBufferPointer { ProcessStatus.verbatimObject(inItemLine: $0, id: 1) } != nil)
}

@Test func handWrittenIntegersAreWhatStringWrites() {
    var json = JSONText()
    json.beginArray()
    let values: [Int] = [0, 7, -1, 10, -10, 4711, Int.max, Int.min]
    for value in values { json.integer(value) }
    json.integer(UInt64.max)
    json.integer(Int32.min)
    json.endArray()
    let expected = "[" + (values.map { String($0) } + [String(UInt64.max), String(Int32.min)]).joined(separator: ",") + "]"
    #expect(String(decoding: json.bytes, as: UTF8.self) == expected)
}

@Test func handWrittenNumbersAreWhatTheEncoderWrites() throws {
    let values: [Double] = [0, -0.0, 1, -1, 7, 1.5, -2.25, 0.1, 99.9, 12.5, 4096, 1_795_782_710.631, 1_700_000_000,
                            123_456.789_012_345, 999_999_999_999_999, -999_999_999_999_999, 1e-7, 5e-324]
    for value in values {
        var json = JSONText()
        json.number(value)
        #expect(json.bytes == Array(try WireJSON.encode([value]).dropFirst().dropLast()), "\(value)")
    }
}
