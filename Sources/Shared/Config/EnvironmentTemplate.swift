/// A value of a group's `env` that differs per worker: `{{id}}` is the
/// worker id (`APP_WORKER_ID`), `{{8000 + id}}` or `{{id + 8000}}` that
/// plus a number. For programs that bind their own port rather than take a
/// socket from appd: `PORT: "{{8000 + id}}"` gives workers 0, 1, 2 the
/// ports 8000, 8001, 8002, and a replacement gets the port of the process
/// it replaces (it takes over its id).
///
/// Only this one form, because it is all such a program needs and a
/// config stays readable; `{{{{` is a literal `{{`. Anything else between
/// `{{` and `}}` is a config error, so a typo cannot reach the worker as
/// text. Expanded by the master for each spawn; values from `envFile` are
/// not templates (systemd's format has none).
public enum EnvironmentTemplate {
    enum Piece: Equatable {
        case text(String)
        /// The worker id plus this.
        case workerID(plus: Int)
    }

    /// `text` with every template replaced for worker `id`. Text that is
    /// no valid template (which the config check refuses) is left as it is.
    public static func expand(_ text: String, workerID id: Int) -> String {
        guard case .success(let pieces) = parse(text) else { return text }
        return pieces.map { piece in
            switch piece {
            case .text(let text): text
            case .workerID(let offset): String(offset + id)
            }
        }.joined()
    }

    static func parse(_ text: String) -> Result<[Piece], ConfigLoader.Refusal> {
        let characters = Array(text)
        func isPair(_ character: Character, at index: Int) -> Bool {
            index + 1 < characters.count && characters[index] == character && characters[index + 1] == character
        }
        var pieces: [Piece] = []
        var literal = ""
        var index = 0
        while index < characters.count {
            guard isPair("{", at: index) else {
                literal.append(characters[index])
                index += 1
                continue
            }
            if isPair("{", at: index + 2) {
                literal += "{{"
                index += 4
                continue
            }
            var close = index + 2
            while close < characters.count, !isPair("}", at: close) { close += 1 }
            guard close < characters.count else {
                return .failure(ConfigLoader.Refusal("'{{' without its '}}' in \(String(reflecting: text)); write '{{{{' for a literal '{{'"))
            }
            let inside = String(characters[(index + 2)..<close])
            guard let offset = workerIDOffset(inside) else {
                return .failure(ConfigLoader.Refusal(
                    "unknown template '{{\(inside)}}' in \(String(reflecting: text)): expected {{id}} or {{N + id}} "
                        + "(N a whole number of at most 9 digits); write '{{{{' for a literal '{{'"))
            }
            if !literal.isEmpty { pieces.append(.text(literal)) }
            literal = ""
            pieces.append(.workerID(plus: offset))
            index = close + 2
        }
        if !literal.isEmpty { pieces.append(.text(literal)) }
        return .success(pieces)
    }

    /// `id` → 0, `8000 + id` or `id + 8000` → 8000 (blanks anywhere
    /// around the words); nil for anything else.
    private static func workerIDOffset(_ expression: String) -> Int? {
        let words = expression.split(separator: "+", omittingEmptySubsequences: false).map { word in
            word.filter { $0 != " " && $0 != "\t" }
        }
        switch words.count {
        case 1:
            return words[0] == "id" ? 0 : nil
        case 2:
            let numbers = words.filter { $0 != "id" }
            guard numbers.count == 1, let number = numbers.first, (1...9).contains(number.count),
                  number.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(number)
        default:
            return nil
        }
    }
}

extension ConfigLoader.Rule where Output == String {
    /// A value of `env`: a string whose templates are all valid.
    static var environmentValue: Self {
        string.then { text in EnvironmentTemplate.parse(text).map { _ in text } }
    }
}
