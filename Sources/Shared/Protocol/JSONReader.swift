/// A strict JSON (RFC 8259) reader over bytes, for the hot reply lines: a
/// `status` of a thousand workers is a thousand `process` items for appctl to
/// read, and Foundation's JSONDecoder spends about 15 µs on each (generic
/// containers, coding paths, metadata lookups) where reading the bytes in
/// place takes one or two.
///
/// It is a fast path, not a second opinion on what JSON is: every caller
/// falls back to the decoder when it says nil. So it reads only what it is
/// sure the decoder reads the same way, and says nil for the rest: a
/// repeated key, invalid UTF-8, an unpaired `\u` surrogate, a number that
/// does not fit or underflows, nesting deeper than `maximumDepth`,
/// anything outside the grammar. Refusing valid JSON costs only time;
/// accepting what the decoder refuses, or reading it differently, would
/// change what appctl prints, which the fuzz target and the tests check.
///
/// Only valid inside the closure that lent `bytes`.
struct JSONReader {
    /// Deeper objects and arrays are left to the decoder (a reply line has
    /// three levels; a worker's APPSTATS a few more).
    static let maximumDepth = 32

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Only white space is left.
    mutating func isAtEnd() -> Bool {
        skipSpace()
        return index == bytes.count
    }

    // MARK: Containers

    /// Reads an object, calling `member` with each key and the reader at its
    /// value, which `member` must read (or skip); it returns false to give
    /// up. False for anything but an object with no key twice.
    mutating func readObject(_ member: (inout JSONReader, String) -> Bool) -> Bool {
        guard next() == UInt8(ascii: "{"), depth < Self.maximumDepth else { return false }
        index += 1
        depth += 1
        var keys: [String] = []
        if next() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return true
        }
        while true {
            guard let key = readString(), !keys.contains(key), next() == UInt8(ascii: ":") else { return false }
            index += 1
            keys.append(key)
            guard member(&self, key) else { return false }
            switch next() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return true
            default:
                return false
            }
        }
    }

    /// Reads an array, calling `element` with the reader at each element.
    mutating func readArray(_ element: (inout JSONReader) -> Bool) -> Bool {
        guard next() == UInt8(ascii: "["), depth < Self.maximumDepth else { return false }
        index += 1
        depth += 1
        if next() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return true
        }
        while true {
            guard element(&self) else { return false }
            switch next() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return true
            default:
                return false
            }
        }
    }

    /// Any value, as `JSONValue`'s Decodable conformance reads it.
    mutating func readValue() -> JSONValue? {
        switch next() {
        case UInt8(ascii: "{"):
            var members: [String: JSONValue] = [:]
            let read = readObject { reader, key in
                guard let value = reader.readValue() else { return false }
                members[key] = value
                return true
            }
            return read ? .object(members) : nil
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            let read = readArray { reader in
                guard let value = reader.readValue() else { return false }
                elements.append(value)
                return true
            }
            return read ? .array(elements) : nil
        case UInt8(ascii: "\""):
            return readString().map { .string($0) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return readBool().map { .bool($0) }
        case UInt8(ascii: "n"):
            return readNull() ? .null : nil
        default:
            return readDouble().map { .number($0) }
        }
    }

    /// Reads past a value of a member nobody asked for, checking it as
    /// strictly as the rest: the decoder refuses a line whose ignored parts
    /// are not JSON either.
    mutating func skipValue() -> Bool {
        readValue() != nil
    }

    /// An optional member's value into `slot`: left nil for null, as
    /// `decodeIfPresent` reads it, else what `read` reads; false when that
    /// fails.
    mutating func read<Value>(optional slot: inout Value?, _ read: (inout JSONReader) -> Value?) -> Bool {
        if readNull() { return true }
        slot = read(&self)
        return slot != nil
    }

    // MARK: Scalars

    /// Consumes a `null`; false (nothing consumed) when something else comes.
    mutating func readNull() -> Bool {
        readLiteral("null")
    }

    mutating func readBool() -> Bool? {
        if readLiteral("true") { return true }
        if readLiteral("false") { return false }
        return nil
    }

    /// A number written as a whole number (`-12`, no fraction or exponent)
    /// that fits `Integer`; nil for anything else, `3.0` and `1e2` included
    /// (the decoder's rules for those are its own).
    mutating func readInteger<Integer: FixedWidthInteger>(_: Integer.Type) -> Integer? {
        guard let number = scanNumber(), number.isWhole else { return nil }
        var digits = number.start
        let negative = bytes[digits] == UInt8(ascii: "-")
        if negative {
            guard Integer.isSigned else { return nil }
            digits += 1
        }
        var value: Integer = 0
        for position in digits..<number.end {
            let digit = Integer(bytes[position] - UInt8(ascii: "0"))
            let (shifted, overflowShift) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowAdd) = negative
                ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflowShift, !overflowAdd else { return nil }
            value = next
        }
        return value
    }

    /// Any number, rounded to the nearest Double as the decoder rounds it
    /// (both go through strtod); nil when it does not fit, or is so close to
    /// 0 that it is subnormal or rounds to 0 (strtod's ERANGE cases).
    mutating func readDouble() -> Double? {
        guard let number = scanNumber() else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[number.start..<number.end]), as: UTF8.self)
        guard let value = Double(text), value.isNormal || (value == 0 && !number.hasNonZeroDigit) else { return nil }
        return value
    }

    /// A string, unescaped; nil for one that is not valid UTF-8 or holds a
    /// raw control character or a lone surrogate.
    mutating func readString() -> String? {
        guard next() == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return ascii ? String(decoding: content, as: UTF8.self) : String(validating: content, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { return readEscapedString(from: start) }
            if byte < 0x20 { return nil }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        return nil
    }

    // MARK: Lexing

    /// The next byte after white space, not consumed.
    private mutating func next() -> UInt8? {
        skipSpace()
        return index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
            default: return
            }
        }
    }

    private mutating func readLiteral(_ word: StaticString) -> Bool {
        guard next() != nil, bytes.count - index >= word.utf8CodeUnitCount else { return false }
        let matches = word.withUTF8Buffer { expected in
            expected.indices.allSatisfy { bytes[index + $0] == expected[$0] }
        }
        if matches { index += word.utf8CodeUnitCount }
        return matches
    }

    /// Where a number is, once its grammar has been checked (and it consumed).
    private struct NumberToken {
        var start: Int
        var end: Int
        /// No fraction and no exponent.
        var isWhole: Bool
        /// Some digit of the integer or the fraction is not 0.
        var hasNonZeroDigit: Bool
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func scanNumber() -> NumberToken? {
        guard next() != nil else { return nil }
        let start = index
        var nonZero = false
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                if bytes[index] != UInt8(ascii: "0") { nonZero = true }
                index += 1
            }
            return index - first
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { return nil }
        var whole = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            whole = false
            guard digits() > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            whole = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let significant = nonZero
            guard digits() > 0 else { return nil }
            nonZero = significant  // the exponent's digits say nothing about the value being 0
        }
        return NumberToken(start: start, end: index, isWhole: whole, hasNonZeroDigit: nonZero)
    }

    /// The rest of a string whose content started at `start` and has an
    /// escape at `index`: unescaped into bytes, then checked as UTF-8 whole.
    private mutating func readEscapedString(from start: Int) -> String? {
        var content = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let letter = bytes[index]
                index += 1
                switch letter {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): content.append(letter)
                case UInt8(ascii: "b"): content.append(0x08)
                case UInt8(ascii: "f"): content.append(0x0C)
                case UInt8(ascii: "n"): content.append(0x0A)
                case UInt8(ascii: "r"): content.append(0x0D)
                case UInt8(ascii: "t"): content.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = readUnicodeEscape() else { return nil }
                    content.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    return nil
                }
            default:
                guard byte >= 0x20 else { return nil }
                content.append(byte)
            }
        }
        return nil
    }

    /// `XXXX` after `\u`, with the low half of a surrogate pair when it is
    /// the high half; nil for a lone surrogate.
    private mutating func readUnicodeEscape() -> Unicode.Scalar? {
        guard let unit = readHex4() else { return nil }
        switch unit {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                return nil
            }
            index += 2
            guard let low = readHex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
            return Unicode.Scalar(0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        case 0xDC00...0xDFFF:
            return nil
        default:
            return Unicode.Scalar(unit)
        }
    }

    private mutating func readHex4() -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = HexDigit.value(bytes[index]) else { return nil }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
