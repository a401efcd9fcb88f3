import Foundation

extension EndToEnd {
    /// The status file appd writes on SIGUSR2, read the way an operator
    /// does: tables whose columns are separated by two or more spaces. Only
    /// what the tests rely on is parsed, so the layout may evolve around it.
    struct StatusFileText: CustomStringConvertible {
        let text: String

        init(_ text: String) { self.text = text }

        var description: String { text }

        /// Every non-empty line, cut into cells at runs of 2+ spaces.
        var rows: [[String]] {
            text.split(separator: "\n").map { line in
                line.split(separator: "  ", omittingEmptySubsequences: true)
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
        }

        /// The process rows of a group: GROUP, then an integer ID, ...
        func processRows(_ group: String) -> [[String]] {
            rows.filter { $0.count > 2 && $0[0] == group && Int($0[1]) != nil }
        }

        /// N in the group's exit tally, `<status> ×N` (e.g. `exited 3 ×4`),
        /// found on the group's lines that are not process rows.
        func exitCount(_ group: String, _ status: String) -> Int? {
            let processLines = Set(processRows(group).map { $0.joined(separator: "  ") })
            for row in rows where row.first.map({ $0 == group || $0.hasPrefix(group + " ") }) == true {
                guard !processLines.contains(row.joined(separator: "  ")) else { continue }
                let line = row.joined(separator: "  ")
                guard let range = line.range(of: status + " ×") else { continue }
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                if let count = Int(digits) { return count }
            }
            return nil
        }
    }
}
