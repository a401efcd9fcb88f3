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

    public init(file: String, fieldPath: String, message: String) {
        self.file = file
        self.fieldPath = fieldPath
        self.message = message
    }

    /// `FILE: groups[1].count: must be 0 or more, got -2`, the shape compilers
    /// use, so editors and grep can jump to it.
    public var description: String {
        fieldPath.isEmpty ? "\(file): \(message)" : "\(file): \(fieldPath): \(message)"
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
