/// One `envFile` of a group: variables kept in a file of their own, often
/// secrets the config file should not hold, in systemd's `EnvironmentFile=`
/// format, so the file a systemd unit already reads works here unchanged.
///
/// Read when the config is read (at start and at every reload), never by
/// the child: what a worker gets is what `appctl describe` can say is in
/// force, and a file that went missing or broke refuses the reload like any
/// other config problem instead of failing every spawn.
public struct EnvironmentFile: Hashable, Sendable {
    /// Absolute (a relative one is taken relative to the config file).
    public var path: String
    /// Written with a leading `-` (systemd's `EnvironmentFile=-/path`): a
    /// file that does not exist is not an error and sets nothing.
    public var isOptional: Bool
    /// False for an optional file that did not exist.
    public var exists: Bool
    /// What the file set; a name set twice keeps its last value.
    public var variables: [String: String]

    public init(path: String, isOptional: Bool = false, exists: Bool = true, variables: [String: String]) {
        self.path = path
        self.isOptional = isOptional
        self.exists = exists
        self.variables = variables
    }

    /// The most a file may hold, like the config file itself.
    public static let maximumBytes = 1 << 20

    /// A line the file could not be read at.
    public struct Problem: Equatable, Sendable {
        public var line: Int
        public var message: String
    }

    /// Parses the format of systemd's `EnvironmentFile=` (its env-file.c):
    ///
    /// - one `KEY=VALUE` per line; white space around the key and before
    ///   the value is dropped, and after an unquoted value too;
    /// - empty lines, and lines starting with `#` or `;`, are comments (a
    ///   backslash at the end of a comment line continues the comment);
    /// - `'single quotes'` keep everything literally, newlines included;
    ///   `"double quotes"` take `\"`, `\\`, `` \` `` and `\$` as escapes;
    ///   outside quotes a backslash takes the next character literally;
    ///   a backslash before a newline continues the value on the next line.
    ///
    /// Where systemd warns and skips (a line without `=`, a name with white
    /// space or control characters) or reads on (a quote never closed), this
    /// refuses with the line, so a broken file is found when the config is
    /// checked, not as a variable that is silently missing.
    public static func parse(_ text: String) -> (variables: [String: String], problems: [Problem]) {
        var parser = Parser()
        for scalar in text.unicodeScalars { parser.take(scalar) }
        parser.finish()
        return (parser.variables, parser.problems)
    }

    /// The state machine of `parse`, one Unicode scalar at a time.
    private struct Parser {
        enum State {
            case beforeKey, key, beforeValue, value, valueEscape
            case singleQuoted, doubleQuoted, doubleQuotedEscape, comment, commentEscape
        }

        var state = State.beforeKey
        var variables: [String: String] = [:]
        var problems: [Problem] = []
        var line = 1
        /// Where the assignment being read started, for its problems.
        var assignmentLine = 1
        /// Where the open quote is, for "never closed".
        var quoteLine = 1
        var key = ""
        var value = ""
        /// How much of `value` was unquoted white space at its end, dropped
        /// when the value ends.
        var trailingWhitespace = 0

        static let newlines: Set<Unicode.Scalar> = ["\n", "\r"]
        /// What a backslash escapes inside double quotes (systemd's SHELL_NEED_ESCAPE).
        static let doubleQuoteEscapes: Set<Unicode.Scalar> = ["\"", "\\", "`", "$"]

        static func isBlank(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" }

        mutating func take(_ scalar: Unicode.Scalar) {
            let isNewline = Self.newlines.contains(scalar)
            defer { if isNewline && scalar == "\n" { line += 1 } }
            switch state {
            case .beforeKey:
                if scalar == "#" || scalar == ";" {
                    state = .comment
                } else if !isNewline && !Self.isBlank(scalar) {
                    state = .key
                    assignmentLine = line
                    key = String(scalar)
                }
            case .key:
                if isNewline {
                    problems.append(Problem(line: assignmentLine, message: "expected KEY=VALUE, got \(String(reflecting: key))"))
                    state = .beforeKey
                } else if scalar == "=" {
                    state = .beforeValue
                    value = ""
                    trailingWhitespace = 0
                } else {
                    key.unicodeScalars.append(scalar)
                }
            case .beforeValue:
                if isNewline {
                    endAssignment()
                } else if scalar == "'" {
                    openQuote(.singleQuoted)
                } else if scalar == "\"" {
                    openQuote(.doubleQuoted)
                } else if scalar == "\\" {
                    state = .valueEscape
                } else if !Self.isBlank(scalar) {
                    state = .value
                    append(scalar, quoted: false)
                }
            case .value:
                if isNewline {
                    endAssignment()
                } else if scalar == "\\" {
                    state = .valueEscape
                } else {
                    append(scalar, quoted: false)
                }
            case .valueEscape:
                state = .value
                if !isNewline { append(scalar, quoted: true) }
            case .singleQuoted:
                if scalar == "'" { state = .beforeValue } else { append(scalar, quoted: true) }
            case .doubleQuoted:
                if scalar == "\"" {
                    state = .beforeValue
                } else if scalar == "\\" {
                    state = .doubleQuotedEscape
                } else {
                    append(scalar, quoted: true)
                }
            case .doubleQuotedEscape:
                state = .doubleQuoted
                if Self.doubleQuoteEscapes.contains(scalar) {
                    append(scalar, quoted: true)
                } else if !isNewline {
                    append("\\", quoted: true)
                    append(scalar, quoted: true)
                }
            case .comment:
                if scalar == "\\" { state = .commentEscape } else if isNewline { state = .beforeKey }
            case .commentEscape:
                state = .comment
            }
        }

        /// The end of the text: an assignment without its newline still counts.
        mutating func finish() {
            switch state {
            case .key:
                take("\n")
            case .beforeValue, .value, .valueEscape:
                endAssignment()
            case .singleQuoted, .doubleQuoted, .doubleQuotedEscape:
                problems.append(Problem(line: quoteLine, message: "the quote opened here is never closed"))
            case .beforeKey, .comment, .commentEscape:
                break
            }
        }

        private mutating func openQuote(_ quote: State) {
            state = quote
            quoteLine = line
        }

        private mutating func append(_ scalar: Unicode.Scalar, quoted: Bool) {
            value.unicodeScalars.append(scalar)
            trailingWhitespace = !quoted && Self.isBlank(scalar) ? trailingWhitespace + 1 : 0
        }

        private mutating func endAssignment() {
            state = .beforeKey
            let name = String(key.unicodeScalars.reversed().drop(while: Self.isBlank).reversed().map(Character.init))
            let text = String(value.unicodeScalars.dropLast(trailingWhitespace).map(Character.init))
            if let refusal = Self.nameRefusal(name) {
                problems.append(Problem(line: assignmentLine, message: refusal))
            } else if text.unicodeScalars.contains("\0") {
                problems.append(Problem(line: assignmentLine, message: "the value of \(name) holds a NUL byte, which no environment can carry"))
            } else {
                variables[name] = text
            }
        }

        /// systemd's rule for names (env_name_is_valid): printable ASCII
        /// without `=`; so `export NAME=value`, a shell habit, is refused.
        private static func nameRefusal(_ name: String) -> String? {
            guard !name.isEmpty else { return "a variable needs a name before '='" }
            guard name.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
                return "\(String(reflecting: name)) is not a variable name: printable characters only, no white space"
                    + (name.hasPrefix("export ") ? " (the file is not a shell script: drop 'export')" : "")
            }
            return nil
        }
    }
}
