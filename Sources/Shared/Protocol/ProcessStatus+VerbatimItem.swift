extension ProcessStatus {
    /// Where the process object lies in a `process` item line of request
    /// `id`, as appd writes it (`replyLine(id:)`), for `appctl status
    /// --json`, which prints the object as it came: the line's bytes from
    /// `object.lowerBound` to `object.upperBound` without those at `type`,
    /// the item's `"type":"process",`. Reading a thousand objects into
    /// `ProcessStatus` values and writing them out again was half of
    /// appctl's time for a status of a thousand workers; checking them and
    /// copying them is a few times cheaper.
    ///
    /// It takes only lines in the shape `replyLine(id:)` gives them, where
    /// the copy is what reading and writing again would print: the members
    /// `write(into:asItem:)` writes, in its order, no white space, strings
    /// of printable ASCII without escapes, integers in range, finite numbers
    /// in fixed notation without trailing zeros (appd writes each number's
    /// shortest spelling, as the writer does), and none of the rarer members
    /// (`appStats`). nil for anything else (an unknown member, an escape,
    /// UTF-8, another id): the caller reads that line as before, through
    /// `ControlReply(line:)`, which also says why a line is bad. Any line
    /// taken is JSON that the reader and the decoder read.
    public struct VerbatimObject: Equatable {
        public var object: Range<Int>
        public var type: Range<Int>
    }

    public static func verbatimObject(inItemLine line: UnsafeBufferPointer<UInt8>, id: Int) -> VerbatimObject? {
        var scanner = CanonicalScanner(line)
        guard scanner.take("{\"id\":"), scanner.integer(in: Int64(id)...Int64(id)), scanner.take(",\"item\":") else { return nil }
        let start = scanner.index
        guard scanner.take("{") else { return nil }
        var type: Range<Int>?
        var next = 0  // the first member of `members` that may still come
        var first = true
        while !scanner.take("}") {
            if !first { guard scanner.take(",") else { return nil } }
            first = false
            let memberStart = scanner.index
            guard let key = scanner.key(),
                  let found = Self.verbatimMembers[next...].firstIndex(where: { $0.key.elementsEqual(key) })
            else { return nil }
            // A required member skipped over is missing.
            guard !Self.verbatimMembers[next..<found].contains(where: \.required) else { return nil }
            next = found + 1
            guard scanner.value(Self.verbatimMembers[found].kind) else { return nil }
            if Self.verbatimMembers[found].kind == .processType { type = memberStart..<(scanner.index + 1) }
        }
        guard !Self.verbatimMembers[next...].contains(where: \.required), let type else { return nil }
        let object = start..<scanner.index
        // The item ends the line: only `"ok":true` may follow.
        guard scanner.take(",\"ok\":true}"), scanner.index == line.count, line[type.upperBound - 1] == UInt8(ascii: ",") else {
            return nil
        }
        return VerbatimObject(object: object, type: type)
    }

    /// The members `write(into:asItem: true)` writes, in its order.
    private static let verbatimMembers: [(key: [UInt8], kind: VerbatimKind, required: Bool)] = [
        (Array("backoffRemaining".utf8), .number, false),
        (Array("cpu".utf8), .number, false),
        (Array("fds".utf8), .integer, false),
        (Array("group".utf8), .string, true),
        (Array("id".utf8), .integer, true),
        (Array("lastExit".utf8), .lastExit, true),
        (Array("pid".utf8), .pid, true),
        (Array("restarts".utf8), .integer, true),
        (Array("rss".utf8), .unsigned, false),
        (Array("state".utf8), .state, true),
        (Array("statusText".utf8), .string, false),
        (Array("tcp".utf8), .counts, false),
        (Array("threads".utf8), .integer, false),
        (Array("type".utf8), .processType, true),
        (Array("uptime".utf8), .numberOrNull, true),
    ]

    /// What a member's value must look like.
    fileprivate enum VerbatimKind: Equatable {
        case string, state, processType, integer, unsigned, pid, number, numberOrNull, lastExit, counts
    }
}

/// A reader of canonical JSON (appd's hand-written lines) that only checks
/// and moves on, allocating nothing: what it accepts, `JSONReader` and the
/// decoder read, and `JSONText` writes back, the same.
private struct CanonicalScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Consumes `text` if it comes next.
    mutating func take(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let matches = text.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        if matches { index += count }
        return matches
    }

    /// A member name and its colon; the name's bytes.
    mutating func key() -> UnsafeBufferPointer<UInt8>? {
        guard let name = string(), take(":") else { return nil }
        return name
    }

    /// A string of printable ASCII with no escape; its content.
    mutating func string() -> UnsafeBufferPointer<UInt8>? {
        guard take("\"") else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)])
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// A whole number as `JSONText.integer` writes it, within `range`.
    mutating func integer(in range: ClosedRange<Int64>) -> Bool {
        let negative = take("-")
        let start = index
        var value: Int64 = 0
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10, index - start < 18 {
            value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        let digits = index - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0"),
              index == bytes.count || bytes[index] &- UInt8(ascii: "0") >= 10 else { return false }
        if negative { guard value != 0 else { return false } }  // "-0" is not an integer JSONText writes
        return range.contains(negative ? -value : value)
    }

    /// A number as `JSONText.number` writes a finite one in fixed
    /// notation: no exponent, no trailing zero in a fraction, and short
    /// enough (24 bytes) that it is neither infinite nor subnormal.
    mutating func number() -> Bool {
        let start = index
        _ = take("-")
        let integerStart = index
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
        guard index > integerStart, index - integerStart == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return false }
        if take(".") {
            let fractionStart = index
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 { index += 1 }
            guard index > fractionStart, bytes[index - 1] != UInt8(ascii: "0") else { return false }
        }
        guard index == bytes.count || !(bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) else {
            return false
        }
        return index - start <= 24
    }

    mutating func value(_ kind: ProcessStatus.VerbatimKind) -> Bool {
        switch kind {
        case .string:
            return string() != nil
        case .state:
            guard let name = string() else { return false }
            return ProcessStatus.State.allCases.contains { $0.rawValue.utf8.elementsEqual(name) }
        case .processType:
            return take("\"process\"")
        case .integer:
            return integer(in: Int64.min...Int64.max)
        case .unsigned:
            return integer(in: 0...Int64.max)
        case .pid:
            return take("null") || integer(in: Int64(Int32.min)...Int64(Int32.max))
        case .number:
            return number()
        case .numberOrNull:
            return take("null") || number()
        case .lastExit:
            if take("null") { return true }
            guard take("{\"at\":"), number(), take(",\"description\":"), string() != nil else { return false }
            if take(",\"requested\":") { guard string() != nil else { return false } }
            guard take(",\"status\":"), take("null") || string() != nil else { return false }
            return take(",\"uptime\":") && number() && take("}")
        case .counts:
            // `{"established":3,...}`, names in ascending order (so none twice).
            guard take("{") else { return false }
            var previous: UnsafeBufferPointer<UInt8>?
            var first = true
            while !take("}") {
                if !first { guard take(",") else { return false } }
                first = false
                guard let name = key(), previous.map({ $0.lexicographicallyPrecedes(name) }) ?? true,
                      integer(in: Int64.min...Int64.max) else { return false }
                previous = name
            }
            return true
        }
    }
}
