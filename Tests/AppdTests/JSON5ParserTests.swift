import Foundation
import Testing
@testable import Shared

// The config parser: every JSON5 feature, and for every kind of bad input a
// problem with a line and column instead of a trap.

private typealias Value = ConfigLoader.Value
private typealias Parser = ConfigLoader.JSON5Parser

private func parse(_ bytes: [UInt8]) -> Result<Value, ConfigLoader.JSON5Failure> { Parser.parse(bytes) }

private func parse(_ text: String) -> Result<Value, ConfigLoader.JSON5Failure> { parse(Array(text.utf8)) }

/// The value `text` parses to; records an issue if it does not parse.
private func value(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Value? {
    switch parse(text) {
    case .success(let value):
        return value
    case .failure(let failure):
        Issue.record("\(text) did not parse: \(failure.problems)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The one problem `bytes` has, as `LINE:COLUMN: message` (or just the
/// message for a whole-file problem); nil when it parses.
private func problem(_ bytes: [UInt8]) -> String? {
    guard case .failure(let failure) = parse(bytes) else { return nil }
    return failure.problems.map { problem in
        let prefix = problem.position.map { "\($0): " } ?? ""
        let path = problem.fieldPath.isEmpty ? "" : "\(problem.fieldPath): "
        return prefix + path + problem.message
    }.joined(separator: "\n")
}

private func problem(_ text: String) -> String? { problem(Array(text.utf8)) }

// MARK: - The crash of issue 9

/// `{grüße: 1}` saved as Latin-1: ü is 0xFC, ß is 0xDF. Foundation's JSON5
/// scanner trapped on it (appd --check exited 132; a reload crashed the
/// master). Now it is an error at the byte.
@Test func latin1KeyThatCrashedFoundationIsAnErrorAtItsByte() throws {
    let bytes: [UInt8] = [0x7B, 0x67, 0x72, 0xFC, 0xDF, 0x65, 0x3A, 0x20, 0x31, 0x7D]
    #expect(problem(bytes) == "1:4: invalid UTF-8: byte 0xFC cannot start a character (the file looks Latin-1 encoded; save it as UTF-8)")

    let error = try #require(throws: ConfigError.self) {
        try ConfigLoader.parse(bytes: bytes, sourcePath: "/etc/appd.json")
    }
    #expect(error.problems.count == 1)
    #expect(error.problems.first?.position == SourcePosition(line: 1, column: 4))
    #expect(error.description.hasPrefix("/etc/appd.json:1:4: invalid UTF-8: byte 0xFC"))
}

@Test func everyLeadByteFromF8ToFFInAKeyIsAnError() {
    for byte in UInt8(0xF5)...UInt8(0xFF) {
        #expect(problem([0x7B, 0x61, byte, 0x3A, 0x31, 0x7D]) == "1:3: invalid UTF-8: byte \(String(format: "0x%02X", byte)) cannot start a character (the file looks Latin-1 encoded; save it as UTF-8)")
    }
}

@Test func invalidUTF8IsAnErrorWithItsLineAndColumn() {
    // In a string, on line 3, after a two-byte character (columns count characters).
    #expect(problem(Array("{\n  a: \"ok\",\n  é: \"x".utf8) + [0xC3, 0x28] + Array("\"}".utf8))
        == "3:8: invalid UTF-8: byte 0xC3 starts a 2-byte sequence, but 0x28 follows (the file looks Latin-1 encoded; save it as UTF-8)")
    // In a key.
    #expect(problem(Array("{\n  ke".utf8) + [0xFF] + Array("y: 1}".utf8))?.hasPrefix("2:5: invalid UTF-8: byte 0xFF") == true)
    // In a comment: the file as a whole must be UTF-8.
    #expect(problem(Array("// caf".utf8) + [0xE9] + Array("\n{}".utf8))?.hasPrefix("1:7: invalid UTF-8: byte 0xE9 starts a 3-byte sequence, but 0x0A follows") == true)
    // A continuation byte alone, an overlong NUL, an encoded surrogate, beyond U+10FFFF, cut off by the end.
    #expect(problem(Array("\"".utf8) + [0x80] + Array("\"".utf8)) == "1:2: invalid UTF-8: byte 0x80 cannot start a character")
    #expect(problem(Array("\"".utf8) + [0xC0, 0x80] + Array("\"".utf8)) == "1:2: invalid UTF-8: byte 0xC0 cannot start a character (the file looks Latin-1 encoded; save it as UTF-8)")
    #expect(problem(Array("\"".utf8) + [0xE0, 0x80, 0xAF] + Array("\"".utf8))
        == "1:2: invalid UTF-8: the sequence 0xE0 0x80 0xAF is not a valid character (the file looks Latin-1 encoded; save it as UTF-8)")
    #expect(problem(Array("\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"".utf8))?.hasPrefix("1:2: invalid UTF-8: the sequence 0xED 0xA0 0x80 is not a valid character") == true)
    #expect(problem(Array("\"".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("\"".utf8))?.hasPrefix("1:2: invalid UTF-8: the sequence 0xF4 0x90 0x80 0x80 is not") == true)
    #expect(problem(Array("[\"".utf8) + [0xE2, 0x82]) == "1:3: invalid UTF-8: byte 0xE2 starts a 3-byte sequence, but the file ends (the file looks Latin-1 encoded; save it as UTF-8)")
    // Valid multi-byte text of every length is fine.
    #expect(value("{\"é€😀\": 'ü'}") == .object(["é€😀": .string("ü")]))
}

// MARK: - Duplicate keys

@Test func duplicateKeysAreRefusedWithBothPositions() throws {
    #expect(problem("{\n  count: 1,\n  count: 2,\n}") == "3:3: count: duplicate key 'count', first at line 2, column 3")
    // However the key is spelt: quoted, single-quoted, escaped.
    #expect(problem(#"{a: 1, "a": 2, 'a': 3, \u0061: 4}"#) == """
        1:8: a: duplicate key 'a', first at line 1, column 2
        1:16: a: duplicate key 'a', first at line 1, column 2
        1:24: a: duplicate key 'a', first at line 1, column 2
        """)
    // Nested, with the field path.
    let text = """
        {
          groups: [
            {name: "a", command: ["x"]},
            {name: "b", command: ["y"], env: {A: "1", B: "2", A: "3"}},
          ],
        }
        """
    #expect(problem(text) == "4:55: groups[1].env.A: duplicate key 'A', first at line 4, column 39")
    // The same key in two objects is no duplicate.
    #expect(value("[{a: 1}, {a: 2}]") == .array([.object(["a": .number(1)]), .object(["a": .number(2)])]))

    let error = try #require(throws: ConfigError.self) {
        try ConfigLoader.parse(text, sourcePath: "/etc/appd.json")
    }
    #expect(error.description == "/etc/appd.json:4:55: groups[1].env.A: duplicate key 'A', first at line 4, column 39")
}

// MARK: - Limits

@Test func nestingDeeperThan128IsAnErrorNotAStackOverflow() {
    let deepest = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
    #expect(problem(deepest) == nil)
    let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
    #expect(problem(tooDeep) == "1:129: objects and arrays are nested more than 128 levels deep")
    #expect(problem(String(repeating: "{a:", count: 200)) == "1:385: objects and arrays are nested more than 128 levels deep")
    // Far beyond: a million brackets.
    #expect(problem(String(repeating: "[", count: 1_000_000))?.hasSuffix("nested more than 128 levels deep") == true)
}

@Test func filesOverOneMebibyteAreRefused() throws {
    let limit = 1 << 20
    let padding = { (count: Int) in Array(repeating: UInt8(ascii: " "), count: count) }
    #expect(problem(Array("{}".utf8) + padding(limit - 2)) == nil)
    #expect(problem(Array("{}".utf8) + padding(limit - 1)) == "the file is larger than 1048576 bytes (1 MiB), the most a config may be")

    // Read from a file, it is refused too (and not read beyond the limit).
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("appd-big-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(Array("{}".utf8) + padding(3 * limit)).write(to: URL(fileURLWithPath: path))
    let error = try #require(throws: ConfigError.self) { try ConfigLoader.load(path: path) }
    #expect(error.description == "\(path): the file is larger than 1048576 bytes (1 MiB), the most a config may be")
}

// MARK: - Every JSON5 feature

@Test func commentsAndTrailingCommas() {
    #expect(value("""
        // a line comment
        /* a block
           comment */ {
          a: [1, 2, /* inline */ 3,], // trailing commas in arrays
          b: {c: true,}, /**/
        } // and a comment at the very end, without a newline
        """) == .object(["a": .array([.number(1), .number(2), .number(3)]), "b": .object(["c": .bool(true)])]))
    #expect(value("/*a*/[/*b*/]/*c*/") == .array([]))
    #expect(value("{}//") == .object([:]))
}

@Test func unquotedKeysAreECMAScriptIdentifierNames() {
    #expect(value("{a: 1, _b: 2, $c: 3, d4: 4, $: 5, _: 6, camelCase_9$: 7}")
        == .object(["a": .number(1), "_b": .number(2), "$c": .number(3), "d4": .number(4), "$": .number(5), "_": .number(6),
                    "camelCase_9$": .number(7)]))
    // Unicode letters, a combining mark after a letter, \u escapes.
    #expect(value("{grüße: 1, ключ: 2, 名前: 3, e\u{301}t: 4, \\u0061b: 5, c\\u0064: 6}")
        == .object(["grüße": .number(1), "ключ": .number(2), "名前": .number(3), "e\u{301}t": .number(4),
                    "ab": .number(5), "cd": .number(6)]))
    // Words are keys too.
    #expect(value("{true: 1, null: 2, Infinity: 3, NaN: 4}")
        == .object(["true": .number(1), "null": .number(2), "Infinity": .number(3), "NaN": .number(4)]))
    // A key cannot start with a digit, nor hold a character that is not a letter or digit.
    #expect(problem("{1a: 1}") == "1:2: unexpected number 1a (expected a key or '}')")
    #expect(problem("{a-b: 1}") == "1:3: unexpected '-' (expected ':' after the key 'a')")
    #expect(problem("{✓: 1}") == "1:2: unexpected '✓' (expected a key or '}')")
    #expect(problem("{\\u0020: 1}") == "1:2: '\\u0020' is not allowed in an unquoted key; quote the key")
    #expect(problem("{a\\x41: 1}") == "1:3: invalid escape in an unquoted key: only \\uXXXX is allowed")
}

@Test func stringsInBothQuotesWithEveryEscape() {
    #expect(value(#"["double", 'single', "it's", 'say "hi"', '', ""]"#)
        == .array([.string("double"), .string("single"), .string("it's"), .string("say \"hi\""), .string(""), .string("")]))
    #expect(value(#"'\'\"\\\/\b\f\n\r\t\v\0'"#) == .string("'\"\\/\u{08}\u{0C}\n\r\t\u{0B}\u{00}"))
    #expect(value(#"'\x41\x7e\xE9\u0041\u00e9\u20AC'"#) == .string("A~éAé€"))
    // A surrogate pair written as two \u escapes is one character.
    #expect(value(#"'\uD83D\uDE00'"#) == .string("😀"))
    // Any other escaped character stands for itself.
    #expect(value(#"'\q\ü'"#) == .string("qü"))
    // Line continuations: backslash before LF, CR LF, CR, U+2028, U+2029.
    #expect(value("'a\\\nb\\\r\nc\\\rd\\\u{2028}e\\\u{2029}f'") == .string("abcdef"))
    // U+2028 and U+2029 may stand in a string as they are; control characters too.
    #expect(value("'a\u{2028}b\u{2029}c\u{07}'") == .string("a\u{2028}b\u{2029}c\u{07}"))
}

@Test func badEscapesAreErrorsAtTheBackslash() {
    #expect(problem(#"'ab\uD800'"#) == "1:4: unpaired surrogate '\\uD800': a high surrogate must be followed by a low one (\\uDC00-\\uDFFF)")
    #expect(problem(#"'\uD800\u0041'"#) == "1:2: unpaired surrogate '\\uD800': a high surrogate must be followed by a low one (\\uDC00-\\uDFFF)")
    #expect(problem(#"'\uD800\uD800'"#) == "1:2: unpaired surrogate '\\uD800': a high surrogate must be followed by a low one (\\uDC00-\\uDFFF)")
    #expect(problem(#"'\uDE00'"#) == "1:2: unpaired surrogate '\\uDE00': a low surrogate must follow a high one (\\uD800-\\uDBFF)")
    #expect(problem(#"'\u12'"#) == "1:2: invalid escape: '\\u' must be followed by four hex digits")
    #expect(problem(#"'\u{41}'"#) == "1:2: invalid escape: '\\u' must be followed by four hex digits")
    #expect(problem(#"'\x4'"#) == "1:2: invalid escape: '\\x' must be followed by two hex digits")
    #expect(problem(#"'\01'"#) == "1:2: invalid escape '\\01': JSON5 has no octal escapes")
    #expect(problem(#"'\7'"#) == "1:2: invalid escape '\\7': JSON5 has no octal escapes")
    #expect(problem("'abc\\") == "1:5: unterminated string: the file ends after a backslash")
}

@Test func numbersInEveryJSON5Form() {
    let numbers = """
        [0, -0, 1, +1, -1, 1.5, -1.5, .5, 5., +.5, -5., 1e3, 1E3, 1e+3, 1e-3, 2.5E-1, .5e1,
         0x1F, 0XaB, -0x10, +0xff, 0x0, Infinity, +Infinity, -Infinity, 123456789012345678901234567890e0]
        """
    guard case .array(let items)? = value(numbers) else { return }
    #expect(items == [0, -0.0, 1, 1, -1, 1.5, -1.5, 0.5, 5, 0.5, -5, 1000, 1000, 1000, 0.001, 0.25, 5,
                      31, 171, -16, 255, 0, .infinity, .infinity, -.infinity, 1.2345678901234568e29].map(Value.number))
    #expect(value("-0").flatMap { if case .number(let n) = $0 { n.sign == .minus } else { nil } } == true)
    for nan in ["NaN", "+NaN", "-NaN"] {
        guard case .number(let number)? = value(nan) else { continue }
        #expect(number.isNaN)
    }
    #expect(value("1e400") == .number(.infinity))
    #expect(value("[true, false, null]") == .array([.bool(true), .bool(false), .null]))
}

@Test func badNumbersAreErrorsAtTheNumber() {
    #expect(problem("[007]") == "1:2: invalid number: a leading zero is not allowed ('007'); write it without, or use 0x for hex")
    #expect(problem("[0x]") == "1:2: invalid number: '0x' must be followed by hex digits")
    #expect(problem("[1e]") == "1:2: invalid number: the exponent after 'e' has no digits")
    #expect(problem("[-]") == "1:2: invalid number: '-' must be followed by digits, Infinity or NaN")
    #expect(problem("[-.]") == "1:2: invalid number: '-' must be followed by digits, Infinity or NaN")
    #expect(problem("[.]") == "1:2: unexpected '.' (expected a value)")
    #expect(problem("[-Infinite]") == "1:3: unexpected 'Infinite' (expected a number after '-')")
    #expect(problem("[3abc]") == "1:3: unexpected 'abc' right after a number")
    #expect(problem("[0x1g]") == "1:5: unexpected 'g' right after a number")
    #expect(problem("{count: 1.2.3}") == "1:12: unexpected '.' (expected ',' or '}'; is a comma missing before it?)")
}

@Test func whiteSpaceIncludesUnicodeSpacesAndTheByteOrderMark() {
    #expect(value("\u{FEFF}{\u{A0}a\u{2003}:\u{0B}1\u{0C},\u{2028}b\u{2029}:\t2\r\n}") == .object(["a": .number(1), "b": .number(2)]))
}

// MARK: - Positions of common mistakes

@Test func commonMistakesAreReportedWhereTheyAre() {
    // Missing comma between two fields and between two array elements.
    #expect(problem("{\n  groups: [\n    {name: \"a\" command: [\"x\"]},\n  ],\n}\n")
        == "3:16: unexpected 'command' (expected ',' or '}'; is a comma missing before it?)")
    #expect(problem("[\"a\"\n \"b\"]") == "2:2: unexpected string \"b\" (expected ',' or ']'; is a comma missing before it?)")
    // A string left open: reported where it starts.
    #expect(problem("{\n  name: \"web,\n  count: 2,\n}") == "2:9: unterminated string: no closing \" on its line (a string cannot span lines; end a line with \\ to continue it)")
    #expect(problem("{name: 'web") == "1:8: unterminated string: no closing ' before the end of the file")
    // Something after the config.
    #expect(problem("{groups: []}\n}") == "2:1: unexpected '}' after the end of the config (expected the end of the file)")
    #expect(problem("{} {}") == "1:4: unexpected '{' after the end of the config (expected the end of the file)")
    // An object or array never closed: the message points back at its opening.
    #expect(problem("{\n  groups: [\n    {name: \"a\"},\n") == "4:1: unexpected end of file (expected a value or ']' to close the array opened at 2:11)")
    #expect(problem("{a: 1,") == "1:7: unexpected end of file (expected a key or '}' to close the object opened at 1:1)")
    // A value missing, a colon missing, a bare word.
    #expect(problem("{a: 1, b: }") == "1:11: unexpected '}' (expected a value)")
    #expect(problem("{a 1}") == "1:4: unexpected number 1 (expected ':' after the key 'a')")
    #expect(problem("{mode: prod}") == "1:8: unexpected 'prod' (expected a value; a string needs quotes)")
    #expect(problem("[1,,2]") == "1:4: unexpected ',' (expected a value)")
    // Comments gone wrong.
    #expect(problem("{} / comment") == "1:4: unexpected '/' (a comment starts with // or /*)")
    #expect(problem("{\n  /* never closed\n}") == "2:3: unterminated comment: no closing '*/' for this '/*'")
    // Nothing at all.
    #expect(problem("") == "1:1: the file holds no value (it is empty or only comments); expected an object such as {groups: [...]}")
    #expect(problem("// just a comment\n") == "2:1: the file holds no value (it is empty or only comments); expected an object such as {groups: [...]}")
    // An invisible character is named by its code point.
    #expect(problem("{a: 1,\u{07}}") == "1:7: unexpected U+0007 (expected a key or '}')")
    #expect(problem("{a: 1\u{00}}") == "1:6: unexpected U+0000 (expected ',' or '}')")
}

@Test func linesEndAtLFCRLFCRAndUnicodeSeparatorsAndColumnsCountCharacters() {
    #expect(problem("[\r\n1,\r\n}") == "3:1: unexpected '}' (expected a value)")
    #expect(problem("[\r1,\r}") == "3:1: unexpected '}' (expected a value)")
    #expect(problem("[\u{2028}1,\u{2029}}") == "3:1: unexpected '}' (expected a value)")
    #expect(problem("['é€😀', }") == "1:9: unexpected '}' (expected a value)")
}

@Test func syntaxErrorsReadLikeCompilerMessages() throws {
    let error = try #require(throws: ConfigError.self) {
        try ConfigLoader.parse("{\n  groups: [\n    {name: \"a\", command: },\n  ],\n}\n", sourcePath: "/srv/appd.json")
    }
    #expect(error.description == "/srv/appd.json:3:26: unexpected '}' (expected a value)")
    #expect(error.problems == [ConfigProblem(file: "/srv/appd.json", fieldPath: "", message: "unexpected '}' (expected a value)",
                                             position: SourcePosition(line: 3, column: 26))])
}

/// The parser produces the same tree for the JSON a program writes as
/// Foundation's JSON parser does, so every config that worked still does.
@Test func plainJSONParsesAsBefore() throws {
    let json = #"{"controlSocket": "/run/a.sock", "groups": [{"name": "web", "command": ["/bin/sleep", "1"], "count": 2, "env": {"A": "\u00e9\n"}, "readiness": {"afterSeconds": 0.25}}]}"#
    let config = try ConfigLoader.parse(json, sourcePath: "/tmp/appd.json")
    #expect(config.controlSocket == "/run/a.sock")
    #expect(config.groups.map(\.name) == ["web"])
    #expect(config.groups[0].env == ["A": "é\n"])
    #expect(config.groups[0].readiness == .afterSeconds(0.25))
}
