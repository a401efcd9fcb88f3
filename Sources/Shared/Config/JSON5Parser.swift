/// A line and column in a config file, both from 1. The column counts
/// Unicode characters (scalars), not bytes, so it matches what an editor
/// shows for a UTF-8 file; a tab counts as one.
public struct SourcePosition: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `3:14`.
    public var description: String { "\(line):\(column)" }
}

extension ConfigLoader {
    /// What the JSON5 parser refuses: where, under which field (for
    /// duplicate keys), and why.
    struct JSON5Problem: Hashable {
        /// nil when the problem is the whole file (too large).
        var position: SourcePosition?
        var fieldPath: String = ""
        var message: String
    }

    /// Why a file is not a JSON5 value: one syntax error, or every duplicate key.
    struct JSON5Failure: Error, Hashable {
        var problems: [JSON5Problem]
    }

    /// A JSON5 parser (https://spec.json5.org) written for config files,
    /// replacing Foundation's `JSONDecoder.allowsJSON5`, which traps on some
    /// bytes (0xF8–0xFF in an unquoted key) and reports no position.
    ///
    /// Its one promise is that no input makes it trap: every input gives a
    /// `Value` or a problem with a line and column. So it checks the UTF-8
    /// itself (an invalid byte is an error at its position), refuses files
    /// over `maximumBytes` and nesting deeper than `maximumDepth` (recursion
    /// is bounded, so no stack overflow), converts every number without
    /// trapping conversions, and indexes only within bounds. Duplicate keys
    /// are refused too: JSON leaves their meaning open, and a config whose
    /// second `count` silently wins is a config nobody reviewed.
    ///
    /// It works on the decoded Unicode scalars: positions are indices into
    /// them, turned into line and column only when a problem is reported.
    struct JSON5Parser {
        /// Larger files are refused before they are read as JSON5: a config
        /// is a few KiB, and the limit bounds memory and time on any input.
        static let maximumBytes = 1 << 20
        /// Objects and arrays nested deeper than this are refused.
        static let maximumDepth = 128

        /// A syntax error: where, and what. Only the first one is reported;
        /// after it, the rest of the file cannot be read reliably.
        private struct SyntaxError: Error {
            var offset: Int
            var message: String
        }

        private enum PathStep {
            case key(String)
            case index(Int)
        }

        private var text: [Unicode.Scalar] = []
        private var index = 0
        private var depth = 0
        /// The field being parsed, for duplicate-key problems.
        private var path: [PathStep] = []
        /// Keys met twice: where, where first, the field path, the key.
        private var duplicates: [(offset: Int, first: Int, path: String, key: String)] = []

        /// Parses a whole config file.
        static func parse(_ bytes: [UInt8]) -> Result<Value, JSON5Failure> {
            guard bytes.count <= maximumBytes else {
                return .failure(JSON5Failure(problems: [JSON5Problem(
                    position: nil,
                    message: "the file is larger than \(maximumBytes) bytes (1 MiB), the most a config may be")]))
            }
            var parser = JSON5Parser()
            do throws(SyntaxError) {
                try parser.decodeUTF8(bytes)
                let root = try parser.parseDocument()
                guard parser.duplicates.isEmpty else {
                    let lines = parser.lineStarts()
                    return .failure(JSON5Failure(problems: parser.duplicates.map { duplicate in
                        let first = position(of: duplicate.first, lineStarts: lines)
                        return JSON5Problem(
                            position: position(of: duplicate.offset, lineStarts: lines), fieldPath: duplicate.path,
                            message: "duplicate key '\(excerpt(duplicate.key))', first at line \(first.line), column \(first.column)")
                    }))
                }
                return .success(root)
            } catch {
                return .failure(JSON5Failure(problems: [JSON5Problem(position: parser.position(of: error.offset), message: error.message)]))
            }
        }

        // MARK: UTF-8

        /// Decodes the file into `text`, or stops at its first byte that is
        /// not UTF-8, with what came before in `text` so the error has a
        /// line and column (offsets are in scalars, as all offsets are).
        private mutating func decodeUTF8(_ bytes: [UInt8]) throws(SyntaxError) {
            var scalars: [Unicode.Scalar] = []
            scalars.reserveCapacity(bytes.count)
            defer { text = scalars }
            var at = 0
            while at < bytes.count {
                let lead = bytes[at]
                if lead < 0x80 {
                    scalars.append(Unicode.Scalar(lead))
                    at += 1
                    continue
                }
                func invalid(_ reason: String) -> SyntaxError {
                    let latin1 = lead >= 0xA0 ? " (the file looks Latin-1 encoded; save it as UTF-8)" : ""
                    return SyntaxError(offset: scalars.count, message: "invalid UTF-8: \(reason)\(latin1)")
                }
                let length: Int
                let minimum: UInt32
                var value: UInt32
                switch lead {
                case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, UInt32(lead & 0x1F))
                case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(lead & 0x0F))
                case 0xF0...0xF4: (length, minimum, value) = (4, 0x1_0000, UInt32(lead & 0x07))
                default: throw invalid("byte \(Self.hex(lead)) cannot start a character")
                }
                for offset in 1..<length {
                    guard at + offset < bytes.count else {
                        throw invalid("byte \(Self.hex(lead)) starts a \(length)-byte sequence, but the file ends")
                    }
                    guard bytes[at + offset] & 0xC0 == 0x80 else {
                        throw invalid("byte \(Self.hex(lead)) starts a \(length)-byte sequence, but \(Self.hex(bytes[at + offset])) follows")
                    }
                    value = value << 6 | UInt32(bytes[at + offset] & 0x3F)
                }
                let sequence = bytes[at..<(at + length)].map(Self.hex).joined(separator: " ")
                guard value >= minimum, let scalar = Unicode.Scalar(value) else {
                    // Overlong forms, UTF-16 surrogates and values past U+10FFFF.
                    throw invalid("the sequence \(sequence) is not a valid character")
                }
                scalars.append(scalar)
                at += length
            }
        }

        private static func hex(_ byte: UInt8) -> String {
            let digits = Array("0123456789ABCDEF")
            return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
        }

        // MARK: Positions

        /// Where each line starts (offsets in scalars). CR LF, LF, CR,
        /// U+2028 and U+2029 each end a line. Computed once, when a problem
        /// is reported, so a clean parse never pays for it.
        private func lineStarts() -> [Int] {
            var starts = [0]
            var at = 0
            while at < text.count {
                let scalar = text[at]
                at += 1
                if scalar == "\r", at < text.count, text[at] == "\n" { continue }  // the LF ends it
                if Self.isLineTerminator(scalar) { starts.append(at) }
            }
            return starts
        }

        /// Line and column of the scalar at `offset` (or of the end of the file).
        private static func position(of offset: Int, lineStarts: [Int]) -> SourcePosition {
            // The last line start at or before `offset`.
            var low = 0
            var high = lineStarts.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
            }
            return SourcePosition(line: low + 1, column: offset - lineStarts[low] + 1)
        }

        private func position(of offset: Int) -> SourcePosition {
            Self.position(of: offset, lineStarts: lineStarts())
        }

        private func render(_ path: [PathStep]) -> String {
            var result = ""
            for step in path {
                switch step {
                case .key(let key): result += result.isEmpty ? key : ".\(key)"
                case .index(let position): result += "[\(position)]"
                }
            }
            return result
        }

        // MARK: Grammar

        private var current: Unicode.Scalar? { index < text.count ? text[index] : nil }

        private func scalar(at offset: Int) -> Unicode.Scalar? { offset >= 0 && offset < text.count ? text[offset] : nil }

        private mutating func parseDocument() throws(SyntaxError) -> Value {
            try skipSpaceAndComments()
            guard current != nil else {
                throw SyntaxError(offset: index, message: "the file holds no value (it is empty or only comments); expected an object such as {groups: [...]}")
            }
            let root = try parseValue()
            try skipSpaceAndComments()
            if current != nil {
                throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) after the end of the config (expected the end of the file)")
            }
            return root
        }

        private mutating func parseValue() throws(SyntaxError) -> Value {
            try skipSpaceAndComments()
            guard let next = current else {
                throw SyntaxError(offset: index, message: "unexpected end of file (expected a value)")
            }
            switch next {
            case "{": return try parseObject()
            case "[": return try parseArray()
            case "\"", "'": return .string(try parseString())
            case "+", "-", ".", "0"..."9": return .number(try parseNumber())
            default:
                guard Self.isIdentifierStart(next) || next == "\\" else {
                    throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) (expected a value)")
                }
                let start = index
                let word = try parseIdentifier()
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "null": return .null
                case "Infinity": return .number(.infinity)
                case "NaN": return .number(.nan)
                default:
                    throw SyntaxError(offset: start, message: "unexpected '\(Self.excerpt(word))' (expected a value; a string needs quotes)")
                }
            }
        }

        private mutating func enterNesting() throws(SyntaxError) {
            depth += 1
            if depth > Self.maximumDepth {
                throw SyntaxError(offset: index, message: "objects and arrays are nested more than \(Self.maximumDepth) levels deep")
            }
        }

        private mutating func parseObject() throws(SyntaxError) -> Value {
            try enterNesting()
            let open = index
            index += 1  // {
            var fields: [String: Value] = [:]
            var firstSeen: [String: Int] = [:]
            while true {
                try skipSpaceAndComments()
                guard let next = current else { throw unclosed("object", openedAt: open, expected: "a key or '}'") }
                if next == "}" { break }
                let keyStart = index
                let key: String
                if next == "\"" || next == "'" {
                    key = try parseString()
                } else if Self.isIdentifierStart(next) || next == "\\" {
                    key = try parseIdentifier()
                } else {
                    throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) (expected a key or '}')")
                }
                try skipSpaceAndComments()
                guard current == ":" else {
                    throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) (expected ':' after the key '\(Self.excerpt(key))')")
                }
                index += 1
                path.append(.key(key))
                let value = try parseValue()
                if let first = firstSeen[key] {
                    duplicates.append((keyStart, first, render(path), key))
                } else {
                    firstSeen[key] = keyStart
                    fields[key] = value
                }
                path.removeLast()
                try skipSpaceAndComments()
                guard let after = current else { throw unclosed("object", openedAt: open, expected: "',' or '}'") }
                if after == "," {
                    index += 1
                } else if after == "}" {
                    break
                } else {
                    throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) (expected ',' or '}'\(missingCommaHint(at: index)))")
                }
            }
            index += 1  // }
            depth -= 1
            return .object(fields)
        }

        private mutating func parseArray() throws(SyntaxError) -> Value {
            try enterNesting()
            let open = index
            index += 1  // [
            var items: [Value] = []
            while true {
                try skipSpaceAndComments()
                guard let next = current else { throw unclosed("array", openedAt: open, expected: "a value or ']'") }
                if next == "]" { break }
                path.append(.index(items.count))
                items.append(try parseValue())
                path.removeLast()
                try skipSpaceAndComments()
                guard let after = current else { throw unclosed("array", openedAt: open, expected: "',' or ']'") }
                if after == "," {
                    index += 1
                } else if after == "]" {
                    break
                } else {
                    throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) (expected ',' or ']'\(missingCommaHint(at: index)))")
                }
            }
            index += 1  // ]
            depth -= 1
            return .array(items)
        }

        private func unclosed(_ kind: String, openedAt open: Int, expected: String) -> SyntaxError {
            SyntaxError(offset: index, message: "unexpected end of file (expected \(expected) to close the \(kind) opened at \(position(of: open)))")
        }

        /// When what follows a value could start another one, the likeliest
        /// mistake is a missing comma between them.
        private func missingCommaHint(at offset: Int) -> String {
            guard let next = scalar(at: offset) else { return "" }
            let startsAnother = Self.isIdentifierStart(next) || "\"'{[+-.".unicodeScalars.contains(next)
                || ("0"..."9").contains(next)
            return startsAnother ? "; is a comma missing before it?" : ""
        }

        // MARK: Strings

        private mutating func parseString() throws(SyntaxError) -> String {
            let quote = text[index]
            let open = index
            index += 1
            var result = String.UnicodeScalarView()
            while true {
                guard let next = current else {
                    throw SyntaxError(offset: open, message: "unterminated string: no closing \(quote) before the end of the file")
                }
                if next == quote {
                    index += 1
                    return String(result)
                }
                if next == "\n" || next == "\r" {
                    throw SyntaxError(offset: open, message: "unterminated string: no closing \(quote) on its line (a string cannot span lines; end a line with \\ to continue it)")
                }
                if next == "\\" {
                    if let escaped = try parseEscape() { result.append(escaped) }
                } else {
                    result.append(next)
                    index += 1
                }
            }
        }

        /// One escape sequence in a string, from its backslash; nil for a
        /// line continuation, which stands for nothing.
        private mutating func parseEscape() throws(SyntaxError) -> Unicode.Scalar? {
            let start = index
            index += 1  // backslash
            guard let letter = current else {
                throw SyntaxError(offset: start, message: "unterminated string: the file ends after a backslash")
            }
            index += 1
            switch letter {
            case "b": return "\u{08}"
            case "f": return "\u{0C}"
            case "n": return "\n"
            case "r": return "\r"
            case "t": return "\t"
            case "v": return "\u{0B}"
            case "0":
                if let next = current, ("0"..."9").contains(next) {
                    throw SyntaxError(offset: start, message: "invalid escape '\\0\(next)': JSON5 has no octal escapes")
                }
                return "\u{00}"
            case "1"..."9":
                throw SyntaxError(offset: start, message: "invalid escape '\\\(letter)': JSON5 has no octal escapes")
            case "x":
                guard let value = readHex(digits: 2) else {
                    throw SyntaxError(offset: start, message: "invalid escape: '\\x' must be followed by two hex digits")
                }
                return Unicode.Scalar(UInt8(truncatingIfNeeded: value))
            case "u":
                return try parseUnicodeEscape(startingAt: start)
            case "\n", "\u{2028}", "\u{2029}":
                return nil
            case "\r":
                if current == "\n" { index += 1 }
                return nil
            default:
                // \' \" \\ \/ and any other character stand for themselves.
                return letter
            }
        }

        /// `\uXXXX` after its `\u`, joining a surrogate pair written as two
        /// escapes; a lone surrogate is refused (it is no character).
        private mutating func parseUnicodeEscape(startingAt start: Int) throws(SyntaxError) -> Unicode.Scalar {
            guard let unit = readHex(digits: 4) else {
                throw SyntaxError(offset: start, message: "invalid escape: '\\u' must be followed by four hex digits")
            }
            switch unit {
            case 0xD800...0xDBFF:
                let lowStart = index
                guard current == "\\", scalar(at: index + 1) == "u" else {
                    throw SyntaxError(offset: start, message: "unpaired surrogate '\\u\(Self.hex4(unit))': a high surrogate must be followed by a low one (\\uDC00-\\uDFFF)")
                }
                index += 2
                guard let low = readHex(digits: 4), (0xDC00...0xDFFF).contains(low) else {
                    index = lowStart
                    throw SyntaxError(offset: start, message: "unpaired surrogate '\\u\(Self.hex4(unit))': a high surrogate must be followed by a low one (\\uDC00-\\uDFFF)")
                }
                let combined = 0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                guard let scalar = Unicode.Scalar(combined) else {
                    throw SyntaxError(offset: start, message: "invalid escape: not a character")
                }
                return scalar
            case 0xDC00...0xDFFF:
                throw SyntaxError(offset: start, message: "unpaired surrogate '\\u\(Self.hex4(unit))': a low surrogate must follow a high one (\\uD800-\\uDBFF)")
            default:
                guard let scalar = Unicode.Scalar(unit) else {
                    throw SyntaxError(offset: start, message: "invalid escape: not a character")
                }
                return scalar
            }
        }

        /// Exactly `digits` hex digits, consumed; nil (nothing consumed) otherwise.
        private mutating func readHex(digits: Int) -> UInt32? {
            var value: UInt32 = 0
            for offset in 0..<digits {
                guard let digit = scalar(at: index + offset).flatMap(HexDigit.value) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            index += digits
            return value
        }

        private static func hex4(_ value: UInt32) -> String {
            let digits = Array("0123456789ABCDEF")
            return (0..<4).reversed().map { String(digits[Int((value >> (UInt32($0) * 4)) & 0xF)]) }.joined()
        }

        // MARK: Identifiers

        /// An ECMAScript IdentifierName: an unquoted key, or a word value
        /// (true, false, null, Infinity, NaN). `\uXXXX` escapes are allowed
        /// if they stand for a character an identifier may hold.
        private mutating func parseIdentifier() throws(SyntaxError) -> String {
            var result = String.UnicodeScalarView()
            while let next = current {
                var character = next
                let start = index
                if next == "\\" {
                    guard scalar(at: index + 1) == "u" else {
                        throw SyntaxError(offset: start, message: "invalid escape in an unquoted key: only \\uXXXX is allowed")
                    }
                    index += 2
                    guard let unit = readHex(digits: 4), let escaped = Unicode.Scalar(unit) else {
                        throw SyntaxError(offset: start, message: "invalid escape in an unquoted key: '\\u' must be followed by four hex digits naming a character")
                    }
                    character = escaped
                    let allowed = result.isEmpty ? Self.isIdentifierStart(escaped) : Self.isIdentifierPart(escaped)
                    guard allowed else {
                        throw SyntaxError(offset: start, message: "'\\u\(Self.hex4(unit))' is not allowed in an unquoted key; quote the key")
                    }
                } else if result.isEmpty ? Self.isIdentifierStart(next) : Self.isIdentifierPart(next) {
                    index += 1
                } else {
                    break
                }
                result.append(character)
            }
            return String(result)
        }

        static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case "a"..."z", "A"..."Z", "$", "_": return true
            case "\u{00}"..."\u{7F}": return false
            default:
                switch scalar.properties.generalCategory {
                case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber:
                    return true
                default:
                    return false
                }
            }
        }

        static func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
            if isIdentifierStart(scalar) { return true }
            switch scalar {
            case "0"..."9": return true
            case "\u{00}"..."\u{7F}": return false
            case "\u{200C}", "\u{200D}": return true  // ZWNJ, ZWJ
            default:
                switch scalar.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .decimalNumber, .connectorPunctuation: return true
                default: return false
                }
            }
        }

        // MARK: Numbers

        /// A JSON5 number: decimal (`1`, `-1.5`, `.5`, `5.`, `1e3`), hex
        /// (`0x1F`), `Infinity` or `NaN`, each with an optional sign.
        private mutating func parseNumber() throws(SyntaxError) -> Double {
            let start = index
            var negative = false
            if let sign = current, sign == "+" || sign == "-" {
                negative = sign == "-"
                index += 1
            }
            let magnitude: Double
            if let next = current, Self.isIdentifierStart(next) {
                let wordStart = index
                let word = try parseIdentifier()
                switch word {
                case "Infinity": magnitude = .infinity
                case "NaN": magnitude = .nan
                default:
                    throw SyntaxError(offset: wordStart, message: "unexpected '\(Self.excerpt(word))' (expected a number after '\(text[start])')")
                }
                return negative ? -magnitude : magnitude
            }
            if current == "0", let x = scalar(at: index + 1), x == "x" || x == "X" {
                index += 2
                var value = 0.0
                var digits = 0
                while let next = current, let digit = HexDigit.value(next) {
                    value = value * 16 + Double(digit)
                    digits += 1
                    index += 1
                }
                guard digits > 0 else {
                    throw SyntaxError(offset: start, message: "invalid number: '0\(x)' must be followed by hex digits")
                }
                magnitude = value
            } else {
                let integerStart = index
                let integer = readDigits()
                if integer.count > 1, integer.first == "0" {
                    throw SyntaxError(offset: integerStart, message: "invalid number: a leading zero is not allowed ('\(Self.excerpt(integer))'); write it without, or use 0x for hex")
                }
                var fraction = ""
                if current == "." {
                    index += 1
                    fraction = readDigits()
                }
                guard !integer.isEmpty || !fraction.isEmpty else {
                    if index > start + 1 || text[start] != "." {
                        throw SyntaxError(offset: start, message: "invalid number: '\(text[start])' must be followed by digits, Infinity or NaN")
                    }
                    throw SyntaxError(offset: start, message: "unexpected '.' (expected a value)")
                }
                var exponent = ""
                if let e = current, e == "e" || e == "E" {
                    index += 1
                    if let sign = current, sign == "+" || sign == "-" {
                        exponent.unicodeScalars.append(sign)
                        index += 1
                    }
                    let exponentDigits = readDigits()
                    guard !exponentDigits.isEmpty else {
                        throw SyntaxError(offset: start, message: "invalid number: the exponent after '\(e)' has no digits")
                    }
                    exponent += exponentDigits
                }
                let canonical = (integer.isEmpty ? "0" : integer) + "." + (fraction.isEmpty ? "0" : fraction)
                    + (exponent.isEmpty ? "" : "e" + exponent)
                guard let value = Double(canonical) else {
                    throw SyntaxError(offset: start, message: "invalid number '\(Self.excerpt(canonical))'")
                }
                magnitude = value
            }
            // A number must end where it ends: `3abc` or `0x1g` is one mistake, not two tokens.
            if let next = current, Self.isIdentifierStart(next) || ("0"..."9").contains(next) || next == "\\" {
                throw SyntaxError(offset: index, message: "unexpected \(describe(at: index)) right after a number")
            }
            return negative ? -magnitude : magnitude
        }

        private mutating func readDigits() -> String {
            var digits = String.UnicodeScalarView()
            while let next = current, ("0"..."9").contains(next) {
                digits.append(next)
                index += 1
            }
            return String(digits)
        }

        // MARK: Space and comments

        private mutating func skipSpaceAndComments() throws(SyntaxError) {
            while let next = current {
                if Self.isSpace(next) {
                    index += 1
                } else if next == "/" {
                    switch scalar(at: index + 1) {
                    case "/":
                        index += 2
                        while let inComment = current, !Self.isLineTerminator(inComment) { index += 1 }
                    case "*":
                        let open = index
                        index += 2
                        while true {
                            guard let inComment = current else {
                                throw SyntaxError(offset: open, message: "unterminated comment: no closing '*/' for this '/*'")
                            }
                            if inComment == "*", scalar(at: index + 1) == "/" {
                                index += 2
                                break
                            }
                            index += 1
                        }
                    default:
                        throw SyntaxError(offset: index, message: "unexpected '/' (a comment starts with // or /*)")
                    }
                } else {
                    return
                }
            }
        }

        /// JSON5's white space: ECMAScript's, plus the line terminators.
        static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}", "\u{A0}", "\u{FEFF}", "\u{2028}", "\u{2029}": return true
            case "\u{00}"..."\u{7F}": return false
            default: return scalar.properties.generalCategory == .spaceSeparator
            }
        }

        static func isLineTerminator(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "\n" || scalar == "\r" || scalar == "\u{2028}" || scalar == "\u{2029}"
        }

        // MARK: Describing what was found

        /// What stands at `offset`, for "unexpected …": `'}'`, `'command'`,
        /// `string "x"`, `number 3`, `U+0007`, `end of file`.
        private func describe(at offset: Int) -> String {
            guard let found = scalar(at: offset) else { return "end of file" }
            if Self.isIdentifierStart(found) {
                var end = offset
                while let next = scalar(at: end), Self.isIdentifierPart(next), end - offset < 40 { end += 1 }
                return "'\(Self.printable(text[offset..<end]))'"
            }
            if found == "\"" || found == "'" {
                var end = offset + 1
                while let next = scalar(at: end), next != found, !Self.isLineTerminator(next), end - offset < 40 { end += 1 }
                if scalar(at: end) == found { end += 1 }
                return "string \(Self.printable(text[offset..<end]))"
            }
            if ("0"..."9").contains(found) {
                var end = offset
                while let next = scalar(at: end), Self.isIdentifierPart(next) || next == ".", end - offset < 40 { end += 1 }
                return "number \(Self.printable(text[offset..<end]))"
            }
            return Self.isPrintable(found) ? "'\(found)'" : Self.codePoint(found)
        }

        private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
                return false
            default:
                return true
            }
        }

        /// `U+0007`.
        private static func codePoint(_ scalar: Unicode.Scalar) -> String {
            let digits = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }

        private static func printable(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
            var result = ""
            for scalar in scalars {
                if isPrintable(scalar) { result.unicodeScalars.append(scalar) } else { result += codePoint(scalar) }
            }
            return result
        }

        /// A key or word as it goes into a message: at most 40 characters,
        /// invisible ones spelled as code points.
        private static func excerpt(_ word: String) -> String {
            let scalars = Array(word.unicodeScalars)
            let shown = printable(scalars.prefix(40)[...])
            return scalars.count > 40 ? shown + "…" : shown
        }
    }
}
