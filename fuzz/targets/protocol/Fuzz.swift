// libFuzzer target: the control protocol's line framer and decoders.
// Built by scripts/fuzz.sh with every Sources/Shared file compiled in.
//
// The first byte chooses the framer's line limit (so the overflow paths are
// reached with small inputs) and the second the size of the reads the rest
// is cut into; every complete line goes to the request decoder (the
// daemon's side), the reply decoder (appctl's side) and JSONValue. A line
// that the hand reader of process items and done lines takes must give the
// reply the decoder gives, to the bytes it encodes to; a process object
// `appctl status --json` copies as it came (`ProcessStatus.verbatimObject`)
// must be what the decoded process writes.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtocol(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard bytes.count >= 2 else { return 0 }
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
        precondition(!line.contains(UInt8(ascii: "\n")), "a framed line holds a newline")
        precondition(line.count <= limit, "a framed line is over the limit")
        precondition(!line.isEmpty, "the framer yields no blank lines")
        if let request = try? ControlRequest(line: line) {
            _ = request.encodedLine()
        }
        let reply = try? ControlReply(line: line)
        if let copied = verbatimCopy(of: line, id: reply?.id ?? 1) {
            guard case .item(_, .process(let process))? = reply else { preconditionFailure("a copied process line does not decode") }
            var written = JSONText()
            precondition(process.write(into: &written, asItem: false) && written.bytes == copied, "a copied process object differs")
        }
        if let handRead = line.withUnsafeBufferPointer(ControlReply.readByHand(line:)) {
            let decoded = try? WireJSON.decode(ControlReply.self, from: line)
            precondition(handRead.encodedLine() == decoded?.encodedLine(), "the hand reader and the decoder disagree")
        }
        _ = try? JSONValue(parsing: line)
    }
    return 0
}

/// The process object appctl would copy from `line`, if it copies one.
func verbatimCopy(of line: [UInt8], id: Int) -> [UInt8]? {
    line.withUnsafeBufferPointer { bytes in
        ProcessStatus.verbatimObject(inItemLine: bytes, id: id).map {
            var copied = JSONText()
            copied.raw(bytes, at: $0.object, leavingOut: $0.type)
            return copied.bytes
        }
    }
}
