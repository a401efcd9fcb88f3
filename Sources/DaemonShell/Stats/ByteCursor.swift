import Shared

/// A forward-only reader of the ASCII fields of a /proc text buffer.
///
/// A `status` at 1000 workers reads a few thousand /proc files; scanning their
/// bytes in place costs next to nothing, while splitting them into `String`s
/// would allocate once per field. Only valid inside the closure that lent
/// `bytes`.
struct ByteCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var isAtEnd: Bool { index >= bytes.count }

    /// Skips spaces and tabs (not newlines: lines end records).
    mutating func skipBlanks() {
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
            index += 1
        }
    }

    /// Skips blanks, then one field of anything but blanks and newlines;
    /// false when there was no field left.
    @discardableResult
    mutating func skipField() -> Bool {
        skipBlanks()
        let start = index
        while index < bytes.count, !Self.endsField(bytes[index]) { index += 1 }
        return index > start
    }

    /// Skips blanks, then reads an unsigned decimal number; nil without a digit.
    mutating func decimal() -> UInt64? {
        skipBlanks()
        var value: UInt64 = 0
        let start = index
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            value = value &* 10 &+ UInt64(digit)
            index += 1
        }
        return index > start ? value : nil
    }

    /// Skips blanks, then reads up to `maxDigits` hexadecimal digits (either
    /// case, no `0x`); nil without a digit.
    mutating func hex(maxDigits: Int = 16) -> UInt64? {
        skipBlanks()
        var value: UInt64 = 0
        let start = index
        while index < bytes.count, index - start < maxDigits, let digit = HexDigit.value(bytes[index]) {
            value = value << 4 | UInt64(digit)
            index += 1
        }
        return index > start ? value : nil
    }

    /// Consumes `byte` if it comes next; false (and nothing consumed) otherwise.
    mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private static func endsField(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
    }
}

extension String {
    /// Runs `body` over the UTF-8 bytes of the string: how tests feed fixture
    /// lines to the byte parsers.
    func withUTF8Buffer<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var copy = self
        return copy.withUTF8(body)
    }
}
