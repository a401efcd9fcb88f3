/// One thing wrong with a config: which file, which field, what is wrong.
public struct ConfigProblem: Hashable, Sendable, CustomStringConvertible {
    /// The config file (absolute), or where a setting came from when not a file
    /// (e.g. "environment").
    public var file: String
    /// Where in the file, such as `groups[1].count` or `groups[0].listen[2]`;
    /// empty when the problem concerns the whole file (unreadable, bad syntax).
    public var fieldPath: String
    /// What is wrong, phrased to follow the field path: "must be 0 or more, got -2".
    public var message: String
    /// Where in the file, for what the parser finds (a syntax error, a
    /// byte that is not UTF-8, a duplicate key); nil for problems with a
    /// value, which the field path locates.
    public var position: SourcePosition?

    public init(file: String, fieldPath: String, message: String, position: SourcePosition? = nil) {
        self.file = file
        self.fieldPath = fieldPath
        self.message = message
        self.position = position
    }

    /// `FILE: groups[1].count: must be 0 or more, got -2`, or with a position
    /// `FILE:3:14: unexpected '}' (expected a value)`: the shapes compilers
    /// use, so editors and grep can jump to them.
    public var description: String {
        let location = position.map { "\(file):\($0.line):\($0.column)" } ?? file
        return fieldPath.isEmpty ? "\(location): \(message)" : "\(location): \(fieldPath): \(message)"
    }
}

/// A config that cannot be used. It lists every problem found, not just the
/// first, so an operator fixes a file in one round instead of one per error.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    /// One line per problem.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
