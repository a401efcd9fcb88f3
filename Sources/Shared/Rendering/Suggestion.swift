/// "Did you mean ...?" for a mistyped subcommand, option or group name:
/// appctl suggests subcommands and options, appd group names.
public enum Suggestion {
    /// The candidate nearest to `input` by edit distance, if near enough to be
    /// a likely typo (at most a third of the word, and at least 1, may differ).
    public static func closest(to input: String, among candidates: [String]) -> String? {
        let scored = candidates.map { (candidate: $0, distance: editDistance(Array(input), Array($0))) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        let allowed = max(1, max(input.count, best.candidate.count) / 3)
        if best.distance <= allowed { return best.candidate }
        // A prefix is a typo of its own kind: `--grou` for `--group`.
        return candidates.first { input.count >= 3 && $0.hasPrefix(input) }
    }

    /// Edit distance counting a swap of two neighbours as one edit (the
    /// optimal-string-alignment form of Damerau–Levenshtein): `wbe` is one
    /// typo away from `web`, as a person sees it.
    public static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], beforePrevious[j - 2] + 1)
                }
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }
}
