import Shared

/// `appctl --help` and `appctl <subcommand> --help`, laid out like
/// swift-argument-parser's: OVERVIEW, USAGE, ARGUMENTS, OPTIONS, then
/// EXAMPLES, in 80 columns with descriptions aligned at column 26.
enum HelpText {
    static let width = 80
    /// Where descriptions start; a longer label puts its description on the next line.
    static let descriptionColumn = 26

    static let tool: String = {
        let subcommands = Subcommand.all.map { (label: $0.name, help: $0.abstract) }
            + [(label: "help", help: "Show help for a subcommand.")]
        return overview("Control a running appd: status, reloads, stops, scaling, logs.")
            + "USAGE: \(usage(of: nil))\n\n"
            + section("OPTIONS", CommandLineParser.toolOptions.map { ($0.label, $0.help) })
            + section("SUBCOMMANDS", subcommands)
            + "  See 'appctl help <subcommand>' for detailed help.\n\n"
            + section("EXIT STATUS", descriptionColumn: 5, [
                ("0", "Success."),
                ("1", "The command failed or changed nothing: appd answered with an error (unknown group, reload aborted, group already running or already stopped, no process to signal...)."),
                ("2", "Usage error: a bad command line (a value out of range included: a count over \(GroupConfig.maximumCount), --lines over \(ControlCommand.maximumLogLines), --watch outside \(ControlCommand.minimumWatchInterval)..\(Int(ControlCommand.maximumWatchInterval))), or a --config file that cannot be read."),
                ("3", "Cannot reach appd: no socket, a socket of another user, connection refused, permission denied, no answer within --timeout, or the connection broke."),
            ])
            .dropLast(2)
    }()

    static func help(for subcommand: Subcommand) -> String {
        var text = overview(subcommand.abstract)
        if !subcommand.discussion.isEmpty {
            text += wrap(subcommand.discussion, indent: 0).joined(separator: "\n") + "\n\n"
        }
        text += usageLines(of: subcommand).joined(separator: "\n") + "\n\n"
        if !subcommand.arguments.isEmpty {
            text += section("ARGUMENTS", subcommand.arguments)
        }
        text += section("OPTIONS", subcommand.acceptedOptions.map { ($0.label, $0.help) })
        text += "EXAMPLES:\n"
        for example in subcommand.examples {
            text += (example.note.isEmpty ? "" : "  \(example.note):\n") + "    \(example.command)\n"
        }
        return String(text.dropLast())
    }

    /// `OVERVIEW: <abstract>`, wrapped, then a blank line.
    private static func overview(_ abstract: String) -> String {
        wrap("OVERVIEW: " + abstract, indent: 0).joined(separator: "\n") + "\n\n"
    }

    /// The usage line without its "USAGE: " prefix.
    static func usage(of subcommand: Subcommand?) -> String {
        guard let subcommand else { return "appctl [--socket <path> | --config <file>] <subcommand> [<options>]" }
        return "appctl \(subcommand.synopsis)"
    }

    /// `USAGE: appctl <synopsis>`, cut between its bracketed parts where it
    /// would pass the width, the rest aligned under the first argument.
    private static func usageLines(of subcommand: Subcommand) -> [String] {
        let head = "USAGE: appctl \(subcommand.name)"
        let margin = String(repeating: " ", count: head.count)
        var lines = [head]
        var depth = 0
        var part = ""
        var parts: [String] = []
        for character in subcommand.synopsis.dropFirst(subcommand.name.count + 1) {
            if character == " ", depth == 0 {
                parts.append(part)
                part = ""
                continue
            }
            if "[<".contains(character) { depth += 1 } else if "]>".contains(character) { depth -= 1 }
            part.append(character)
        }
        parts.append(part)
        for part in parts where !part.isEmpty {
            if lines[lines.count - 1].count + 1 + part.count > width { lines.append(margin) }
            lines[lines.count - 1] += " " + part
        }
        return lines
    }

    /// A titled block of label/description rows, followed by a blank line.
    private static func section(
        _ title: String, descriptionColumn: Int = HelpText.descriptionColumn, _ rows: [(label: String, help: String)]
    ) -> String {
        var text = "\(title):\n"
        for row in rows {
            let label = "  " + row.label
            let lines = wrap(row.help, indent: descriptionColumn)
            if label.count + 2 <= descriptionColumn, let first = lines.first {
                text += label + String(first.dropFirst(label.count)) + "\n"
                lines.dropFirst().forEach { text += $0 + "\n" }
            } else {
                text += label + "\n"
                lines.forEach { text += $0 + "\n" }
            }
        }
        return text + "\n"
    }

    /// Words filled into lines of at most `width` columns, each indented.
    private static func wrap(_ text: String, indent: Int) -> [String] {
        let margin = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = margin
        for word in text.split(separator: " ") {
            if line.count > indent, line.count + 1 + word.count > width {
                lines.append(line)
                line = margin
            }
            line += (line.count > indent ? " " : "") + word
        }
        if line.count > indent { lines.append(line) }
        return lines
    }
}
