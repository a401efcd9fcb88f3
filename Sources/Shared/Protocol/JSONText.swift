/// A hand-written JSON writer for the hot reply lines (one `process` item per
/// worker per `status`): Foundation's JSONEncoder costs about 10 µs a line,
/// which at a thousand workers is a quarter of the master's work.
///
/// It writes what `WireJSON.encode` writes, byte for byte: keys in the order
/// the caller gives (the caller passes them sorted), strings escaped the same
/// way, whole numbers without ".0". Non-finite numbers cannot be written
/// (JSON has none): `number` then reports failure and the caller falls back
/// to the encoder, which turns that into an error reply.
public struct JSONText {
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Text another encoder produced, as the next value.
    public mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
    }

    /// Text another writer produced, as the next value: the bytes of
    /// `text` at `range` but those at `cut` (a member taken out).
    public mutating func raw(_ text: UnsafeBufferPointer<UInt8>, at range: Range<Int>, leavingOut cut: Range<Int>) {
        separate()
        bytes.append(contentsOf: text[range.lowerBound..<cut.lowerBound])
        bytes.append(contentsOf: text[cut.upperBound..<range.upperBound])
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    public mutating func endArray() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member name written in the code (every name of the hand-written
    /// encoders): copied as it is, since no such name needs an escape. The
    /// value written next belongs to it.
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { utf8 in
            assert(!utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") })
            bytes.append(contentsOf: utf8)
        }
        bytes.append(UInt8(ascii: "\""))
        endKey()
    }

    /// A member name that came with the data (an APPSTATS key, a TCP
    /// state), escaped as needed.
    public mutating func key(named name: String) {
        separate()
        appendQuoted(name)
        endKey()
    }

    private mutating func endKey() {
        bytes.append(UInt8(ascii: ":"))
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = false }
    }

    public mutating func string(_ text: String) {
        separate()
        appendQuoted(text)
    }

    /// Written digit by digit: `String(value)` would allocate a string per figure.
    public mutating func integer<Integer: BinaryInteger>(_ value: Integer) {
        separate()
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        let start = bytes.count
        var rest = magnitude
        repeat {
            let (quotient, digit) = rest.quotientAndRemainder(dividingBy: 10)
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: digit))
            rest = quotient
        } while rest != 0
        bytes[start...].reverse()
    }

    /// False for NaN and infinities, which JSON cannot carry.
    @discardableResult
    public mutating func number(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        // A whole number (a CPU of 0, a time in whole seconds) is written as
        // the integer it is: what `description` gives without its ".0", up to
        // where it would switch to an exponent. -0 keeps its sign that way.
        if value.rounded(.towardZero) == value, abs(value) < 1e15, value != 0 || value.sign == .plus {
            integer(Int64(value))
            return true
        }
        separate()
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
        return true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func null() {
        separate()
        bytes.append(contentsOf: "null".utf8)
    }

    /// A parsed JSON value (a worker's APPSTATS), object keys sorted.
    @discardableResult
    public mutating func value(_ value: JSONValue) -> Bool {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let number): return self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements where !self.value(element) { return false }
            endArray()
        case .object(let members):
            beginObject()
            for name in members.keys.sorted() {
                key(named: name)
                if !self.value(members[name]!) { return false }
            }
            endObject()
        }
        return true
    }

    /// Ends a line of JSON (after its one top-level value).
    public mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
    }

    /// Drops what was written from `offset` on, where a line began: a
    /// line given up part way (a figure it could not write) leaves nothing.
    public mutating func removeLines(from offset: Int) {
        bytes.removeSubrange(offset...)
        needsComma.removeAll()
    }

    /// A comma before every value of a container but the first.
    private mutating func separate() {
        guard let last = needsComma.last else { return }
        if last { bytes.append(UInt8(ascii: ",")) } else { needsComma[needsComma.count - 1] = true }
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most text (every key, group names, states) needs no escape: copied whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: text.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
