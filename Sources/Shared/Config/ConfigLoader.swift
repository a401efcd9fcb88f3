import FoundationEssentials

/// Reads and validates an `appd` config file (JSON5: comments, trailing
/// commas, unquoted keys) into a `DaemonConfig`.
///
/// Parsing and checking are two steps. Our own `JSON5Parser` turns the bytes
/// into a `Value` tree or one problem with a line and column (it replaces
/// Foundation's `JSONDecoder.allowsJSON5`, which traps on some inputs and
/// gives no position), then `Validator` walks the whole tree by hand so every
/// problem in the file is reported at once, each with its field path, instead
/// of stopping at the first as a `Decodable` model would.
public enum ConfigLoader {
    /// Reads `path` and validates it. Relative paths inside the file are taken
    /// relative to the file's directory.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        let file = absolutePath(path, relativeTo: ConfigFileSystem.currentDirectory())
        // One byte more than the parser accepts, so an oversized file (or
        // /dev/zero) is refused without being read whole.
        switch ConfigFileSystem.contents(of: file, limit: JSON5Parser.maximumBytes + 1) {
        case .success(let bytes):
            return try parse(bytes: bytes, sourcePath: file)
        case .failure(let failure):
            throw ConfigError(problems: [ConfigProblem(file: file, fieldPath: "", message: "cannot read: \(failure.reason)")])
        }
    }

    /// Validates config text as if it had been read from `sourcePath`, which
    /// names the file in problems and anchors relative paths.
    public static func parse(_ text: String, sourcePath: String) throws(ConfigError) -> DaemonConfig {
        try parse(bytes: Array(text.utf8), sourcePath: sourcePath)
    }

    /// Validates config bytes as if they had been read from `sourcePath`.
    public static func parse(_ data: Data, sourcePath: String) throws(ConfigError) -> DaemonConfig {
        try parse(bytes: Array(data), sourcePath: sourcePath)
    }

    /// Validates config bytes as if they had been read from `sourcePath`.
    /// Any bytes give a config or a `ConfigError`; none makes it trap.
    public static func parse(bytes: [UInt8], sourcePath: String) throws(ConfigError) -> DaemonConfig {
        let file = absolutePath(sourcePath, relativeTo: ConfigFileSystem.currentDirectory())
        let root: Value
        switch JSON5Parser.parse(bytes) {
        case .success(let value):
            root = value
        case .failure(let failure):
            throw ConfigError(problems: failure.problems.map {
                ConfigProblem(file: file, fieldPath: $0.fieldPath, message: $0.message, position: $0.position)
            })
        }
        let validator = Validator(file: file)
        guard let config = validator.daemonConfig(from: root), validator.problems.isEmpty else {
            throw ConfigError(problems: validator.problems)
        }
        return config
    }

    /// The line `appd --check` prints for a valid config:
    /// `/etc/appd.json: OK — 2 groups (web ×4 on tcp://127.0.0.1:8080, queue ×1), 5 processes`.
    public static func summary(_ config: DaemonConfig) -> String {
        let groups = config.groups.map { group in
            let listening = group.listen.map(\.description).joined(separator: " and ")
            return "\(group.name) ×\(group.count)" + (listening.isEmpty ? "" : " on \(listening)")
        }
        let processes = config.groups.reduce(0) { $0 + $1.count }
        let groupCount = config.groups.count == 1 ? "1 group" : "\(config.groups.count) groups"
        let processCount = processes == 1 ? "1 process" : "\(processes) processes"
        return "\(config.sourcePath ?? "embedded demo config"): OK — \(groupCount) (\(groups.joined(separator: ", "))), \(processCount)"
    }

    /// `path` made absolute against `directory`, with "." and ".." folded away
    /// textually. Symlinks are left as written so that re-pointing one (a
    /// common deploy step) is honoured on the next reload.
    static func absolutePath(_ path: String, relativeTo directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var components: [Substring] = []
        for component in joined.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}

extension ConfigLoader {
    /// A parsed JSON5 value. Unlike the `Any` tree from `JSONSerialization`,
    /// booleans and numbers stay apart, so `count: true` is caught.
    enum Value: Equatable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        /// What this value is, as it reads after "got": `string "4"`,
        /// `number 1.5`, `boolean true`, `null`, `an array`, `an object`.
        var kindAndValue: String {
            switch self {
            case .null: return "null"
            case .bool(let flag): return "boolean \(flag)"
            case .number(let number): return "number \(number.configText)"
            case .string(let text): return "string \(String(reflecting: text))"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }
}
