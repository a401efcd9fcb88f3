/// Left-aligned columns separated by two spaces, the shape of
/// `supervisorctl status` and `pm2 list`. The first row is the header.
public enum TextTable {
    /// How a table gives way when it is wider than its budget.
    public struct Fit: Sendable {
        public enum Step: Sendable, Equatable {
            /// The column narrows down to `minimum`; its cells are cut with
            /// `…`. With `keepingTail`, a cell keeps what follows the last
            /// `keepingTail` in it and is cut before that ("stopped by r…,
            /// 3m ago"), when there is room for it.
            case shrink(column: Int, minimum: Int, keepingTail: String? = nil)
            /// The column is left out.
            case drop(column: Int)
        }

        /// The most columns of text a line may take.
        public var width: Int
        /// What gives way, in order, until the table fits. A column no step
        /// names is never cut: a pid or a group name must stay whole.
        public var steps: [Step]

        public init(width: Int, steps: [Step]) {
            self.width = width
            self.steps = steps
        }
    }

    public static func render(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        return lay(rows, widths: naturalWidths(rows, columns: columns))
    }

    /// The table within `fit.width` columns, as far as its steps allow.
    public static func render(_ rows: [[String]], fit: Fit) -> String { fitted(rows, fit: fit).text }

    /// The same, with the header cells of the columns left out and of those
    /// whose cells were cut.
    public static func fitted(_ rows: [[String]], fit: Fit) -> (text: String, dropped: [String], cut: [String]) {
        guard let columns = rows.map(\.count).max() else { return ("", [], []) }
        var kept = Array(0..<columns)
        var widths = naturalWidths(rows, columns: columns)
        var tails: [Int: String] = [:]
        for step in fit.steps {
            let excess = lineWidth(kept.map { widths[$0] }) - fit.width
            guard excess > 0 else { break }
            switch step {
            case .shrink(let column, let minimum, let tail):
                guard column < columns else { continue }
                widths[column] -= min(excess, max(0, widths[column] - minimum))
                tails[column] = tail
            case .drop(let column):
                kept.removeAll { $0 == column }
            }
        }
        let table = rows.map { row in
            kept.filter { $0 < row.count }.map { column in
                tails[column].map { truncated(row[column], to: widths[column], keepingTail: $0) } ?? row[column]
            }
        }
        func titles(_ columns: [Int]) -> [String] { columns.compactMap { rows[0].indices.contains($0) ? rows[0][$0] : nil } }
        let natural = naturalWidths(rows, columns: columns)
        return (lay(table, widths: kept.map { widths[$0] }),
                titles((0..<columns).filter { !kept.contains($0) }),
                titles(kept.filter { widths[$0] < natural[$0] }))
    }

    /// `text` cut to `width` characters, its last one `…` when cut.
    public static func truncated(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return String(repeating: "…", count: max(0, width)) }
        return String(text.prefix(width - 1)) + "…"
    }

    /// `text` cut to `width` before its last `separator`, keeping what
    /// follows it; an ordinary cut when that would leave too little.
    static func truncated(_ text: String, to width: Int, keepingTail separator: String) -> String {
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        guard text.count > width, parts.count > 1, let last = parts.last else { return truncated(text, to: width) }
        let tail = separator + last
        let room = width - tail.count - 1
        guard room >= 4 else { return truncated(text, to: width) }
        return String(text.prefix(room)) + "…" + tail
    }

    private static func naturalWidths(_ rows: [[String]], columns: Int) -> [Int] {
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return widths
    }

    private static func lineWidth(_ widths: [Int]) -> Int {
        widths.reduce(0, +) + 2 * max(0, widths.count - 1)
    }

    private static func lay(_ rows: [[String]], widths: [Int]) -> String {
        var text = ""
        for row in rows {
            var line = ""
            for (index, cell) in row.enumerated() {
                let shown = truncated(cell, to: widths[index])
                line += shown
                if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - shown.count + 2) }
            }
            while line.hasSuffix(" ") { line.removeLast() }  // an empty last cell leaves padding
            text += line + "\n"
        }
        return text
    }
}
