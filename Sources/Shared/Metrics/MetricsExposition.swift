/// A set of metric families and their text in the Prometheus exposition
/// format, version 0.0.4 (`Content-Type: text/plain; version=0.0.4`): what
/// `/metrics` serves and `appctl metrics` prints. A pure value, so every
/// rule of the format is unit-tested without a daemon:
///
/// - each family appears once, `# HELP` and `# TYPE` first, then all of its
///   samples together (adding to a family already there appends to it);
/// - a counter's name ends in `_total` (checked when it is added);
/// - label values escape `\`, `"` and newlines, help texts `\` and newlines;
/// - values are written as integers when they are whole, `NaN`, `+Inf` and
///   `-Inf` as the format spells them;
/// - a family with no samples is left out (nothing to say is not a zero).
public struct MetricsExposition: Sendable, Equatable {
    public private(set) var families: [MetricFamily] = []
    private var positions: [String: Int] = [:]

    /// The media type of `text`, for an HTTP reply.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init() {}

    /// Adds a family, or its samples to the family of that name already added.
    public mutating func add(_ family: MetricFamily) {
        precondition(Self.isValidName(family.name), "'\(family.name)' is not a valid metric name")
        precondition(family.kind != .counter || family.name.hasSuffix("_total"), "counter '\(family.name)' must end in _total")
        guard let position = positions[family.name] else {
            positions[family.name] = families.count
            families.append(family)
            return
        }
        precondition(families[position].kind == family.kind, "'\(family.name)' added as both \(families[position].kind) and \(family.kind)")
        families[position].samples += family.samples
    }

    /// Shorthand for `add(MetricFamily(...))`.
    public mutating func add(_ name: String, _ kind: MetricFamily.Kind, help: String, _ samples: [MetricSample]) {
        add(MetricFamily(name, kind, help: help, samples: samples))
    }

    /// The exposition, ready to serve: every line ends with `\n`.
    public var text: String {
        var text = ""
        for family in families where !family.samples.isEmpty {
            text += "# HELP \(family.name) \(Self.escapedHelp(family.help))\n"
            text += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                text += family.name
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\($0.name)=\"\(Self.escapedLabelValue($0.value))\"" }.joined(separator: ",") + "}"
                }
                text += " " + Self.formatted(sample.value) + "\n"
            }
        }
        return text
    }

    // MARK: - The format's rules

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !isDigit(first) else { return false }
        return name.utf8.allSatisfy(isNameByte)
    }

    /// `name` made a valid metric name: each character outside
    /// `[a-zA-Z0-9_:]` becomes `_`, and a leading digit (or nothing at all)
    /// gets a `_` in front. `requests.2xx` → `requests_2xx`, `5xx` → `_5xx`.
    public static func sanitizedName(_ name: String) -> String {
        var bytes = name.unicodeScalars.map { $0.isASCII && isNameByte(UInt8($0.value)) ? UInt8($0.value) : UInt8(ascii: "_") }
        if bytes.first.map(isDigit) ?? true { bytes.insert(UInt8(ascii: "_"), at: 0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func escapedLabelValue(_ value: String) -> String {
        escaped(value, quote: true)
    }

    static func escapedHelp(_ help: String) -> String {
        escaped(help, quote: false)
    }

    private static func escaped(_ text: String, quote: Bool) -> String {
        var result = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\"" where quote: result += "\\\""
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// Whole numbers without a fraction (`3`, not `3.0`), up to where a
    /// double still holds every integer; anything else as Swift's shortest
    /// round-tripping form, which Prometheus' parsers read (`0.25`, `1e-05`).
    static func formatted(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }
}
