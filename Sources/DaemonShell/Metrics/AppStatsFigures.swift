import Shared

/// A worker's `APPSTATS=` object as the numbers metrics can show, keyed by
/// names Prometheus accepts. The object is whatever the worker sent, so the
/// rules keep any of it from breaking a scrape:
///
/// - numbers as they are, booleans as 1 and 0; nested objects are
///   flattened with `_` (`{"http": {"2xx": 5}}` → `http_2xx`), at most
///   `maximumDepth` deep; strings, arrays and null are not numbers and are
///   left out;
/// - each key is sanitized to `[a-zA-Z_:][a-zA-Z0-9_:]*`
///   (`MetricsExposition.sanitizedName`); when two keys come out the same
///   (`a.b` and `a_b`), the first in key order counts, so no series is
///   written twice;
/// - at most `maximumPerProcess` figures per process, the first in key
///   order, so one chatty worker cannot swell every scrape.
enum AppStatsFigures {
    static let maximumPerProcess = 64
    static let maximumDepth = 4

    static func flatten(_ stats: JSONValue) -> [(key: String, value: Double)] {
        var figures: [(key: String, value: Double)] = []
        var seen: Set<String> = []
        collect(stats, prefix: nil, depth: 1, into: &figures, seen: &seen)
        return figures
    }

    private static func collect(
        _ value: JSONValue, prefix: String?, depth: Int, into figures: inout [(key: String, value: Double)], seen: inout Set<String>
    ) {
        guard case .object(let members) = value else { return }
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            guard figures.count < maximumPerProcess else { return }
            let key = prefix.map { "\($0)_\(name)" } ?? name
            let number: Double
            switch member {
            case .number(let value): number = value
            case .bool(let flag): number = flag ? 1 : 0
            case .object where depth < maximumDepth:
                collect(member, prefix: key, depth: depth + 1, into: &figures, seen: &seen)
                continue
            default:
                continue
            }
            let sanitized = MetricsExposition.sanitizedName(key)
            if seen.insert(sanitized).inserted { figures.append((sanitized, number)) }
        }
    }
}
