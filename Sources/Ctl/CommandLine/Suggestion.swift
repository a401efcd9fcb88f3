/// "Did you mean ...?" for a mistyped subcommand or option.
enum Suggestion {
    /// The candidate nearest to `input` by edit distance, if near enough to be
    /// a likely typo (at most a third of the word, and at least 1, may differ).
    static func closest(to input: String, among candidates: [String]) -> String? {
        let scored = candidates.map { (candidate: $0, distance: editDistance(Array(input), Array($0))) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        let allowed = max(1, max(input.count, best.candidate.count) / 3)
        if best.distance <= allowed { return best.candidate }
        // A prefix is a typo of its own kind: `--grou` for `--group`.
        return candidates.first { input.count >= 3 && $0.hasPrefix(input) }
    }

    /// Levenshtein distance, one row at a time.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
