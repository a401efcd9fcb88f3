import FoundationEssentials

/// Reads and validates an `appd` config file (JSON5: comments, trailing
/// commas, unquoted keys) into a `DaemonConfig`.
///
/// Parsing and checking are two steps. Foundation's JSON5 scanner
/// (`JSONDecoder.allowsJSON5`; `JSONSerialization` has no JSON5 option on
/// Linux) turns the text into a `Value` tree, then `Validator` walks the whole
/// tree by hand so every problem in the file is reported at once, each with
/// its field path, instead of stopping at the first as a `Decodable` model would.
public enum ConfigLoader {
    /// Reads `path` and validates it. Relative paths inside the file are taken
    /// relative to the file's directory.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        let file = absolutePath(path, relativeTo: ConfigFileSystem.currentDirectory())
        switch ConfigFileSystem.contents(of: file) {
        case .success(let bytes):
            return try parse(Data(bytes), sourcePath: file)
        case .failure(let failure):
            throw ConfigError(problems: [ConfigProblem(file: file, fieldPath: "", message: "cannot read: \(failure.reason)")])
        }
    }

    /// Validates config text as if it had been read from `sourcePath`, which
    /// names the file in problems and anchors relative paths.
    public static func parse(_ text: String, sourcePath: String) throws(ConfigError) -> DaemonConfig {
        try parse(Data(text.utf8), sourcePath: sourcePath)
    }

    /// Validates config bytes as if they had been read from `sourcePath`.
    public static func parse(_ data: Data, sourcePath: String) throws(ConfigError) -> DaemonConfig {
        let file = absolutePath(sourcePath, relativeTo: ConfigFileSystem.currentDirectory())
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        let root: Value
        do {
            root = try decoder.decode(Value.self, from: data)
        } catch {
            // Foundation's JSON5 scanner reports no position on Linux, only that
            // the text is invalid; say so rather than pretend to know where.
            throw ConfigError(problems: [ConfigProblem(
                file: file, fieldPath: "",
                message: "not valid JSON5 (the parser gives no position; look for a missing comma, quote or bracket)"
            )])
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
    enum Value: Decodable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            if let object = try? decoder.container(keyedBy: Key.self) {
                var fields: [String: Value] = [:]
                for key in object.allKeys {
                    fields[key.stringValue] = try object.decode(Value.self, forKey: key)
                }
                self = .object(fields)
            } else if var array = try? decoder.unkeyedContainer() {
                var items: [Value] = []
                while !array.isAtEnd {
                    items.append(try array.decode(Value.self))
                }
                self = .array(items)
            } else {
                let single = try decoder.singleValueContainer()
                // JSONDecoder reads `true` only as a Bool and `1` only as a
                // number, so these attempts cannot take each other's values.
                if single.decodeNil() {
                    self = .null
                } else if let flag = try? single.decode(Bool.self) {
                    self = .bool(flag)
                } else if let number = try? single.decode(Double.self) {
                    self = .number(number)
                } else {
                    self = .string(try single.decode(String.self))
                }
            }
        }

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
