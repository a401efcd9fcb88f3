import FoundationEssentials

/// The one JSON dialect of the control protocol, used by both sides and by
/// `appctl --json`: compact (one value per line), keys sorted so the same
/// value always gives the same bytes (diffable output, exact test fixtures),
/// and `/` left unescaped so paths read as written.
public enum WireJSON {
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Unknown members are ignored and missing optional ones read as nil, so
    /// an older `appctl` can read a newer daemon's replies and vice versa.
    public static func decode<Value: Decodable>(_ type: Value.Type, from bytes: some Sequence<UInt8>) throws -> Value {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
