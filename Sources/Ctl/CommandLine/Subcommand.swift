import Shared

/// One `appctl` subcommand, declared once: what it is for (help), what it
/// accepts (scanning and help), and how its arguments become a protocol
/// command (`makeRequest`). The catalog is in `Subcommand+Catalog.swift`.
struct Subcommand: Sendable {
    let name: String
    /// One line, for `appctl --help` and the top of the subcommand's help.
    let abstract: String
    /// More to know, printed under the abstract; may be empty.
    let discussion: String
    /// The synopsis after "appctl ": `status [<group>] [--json] [--watch [<seconds>]]`.
    let synopsis: String
    /// Positional arguments, for help: ("<group>", "...").
    let arguments: [(label: String, help: String)]
    /// The subcommand's own options; `--socket`, `--config` and `--help` come on top.
    let options: [OptionSpec]
    let examples: [(command: String, note: String)]
    let makeRequest: @Sendable (ScannedArguments) throws(UsageError) -> ControlCommand

    /// Every option the subcommand accepts, in the order help lists them.
    var acceptedOptions: [OptionSpec] { options + OptionSpec.connectionOptions + [.help] }

    static func named(_ name: String) -> Subcommand? { all.first { $0.name == name } }
}

/// Readers shared by the subcommands' `makeRequest`.
extension ScannedArguments {
    /// The group, given either as `--group G` or as the first of the
    /// positionals when there is one more than the `trailing` arguments
    /// need: `appctl scale web 3` and `appctl scale --group web 3` alike.
    /// Returns the group and the trailing positionals.
    func group(required: Bool, trailing: [String] = []) throws(UsageError) -> (group: String?, trailing: [String]) {
        var rest = positionals
        if rest.count > trailing.count + 1 {
            throw UsageError("unexpected argument '\(rest[trailing.count + 1])'")
        }
        var group = value(of: .group)
        if rest.count == trailing.count + 1 {
            let positional = rest.removeFirst()
            if let group { throw UsageError("the group is given twice: '\(positional)' and '--group \(group)'") }
            group = positional
        }
        if rest.count < trailing.count || (required && group == nil) {
            let expected = (required ? ["<group>"] : []) + trailing
            let got = positionals.isEmpty ? "nothing" : positionals.map { "'\($0)'" }.joined(separator: " ")
            throw UsageError("expected \(expected.joined(separator: " ")), got \(got)")
        }
        if group == "" { throw UsageError("the group name is empty") }
        return (group, rest)
    }

    func noPositionals() throws(UsageError) {
        if let first = positionals.first { throw UsageError("unexpected argument '\(first)'") }
    }
}

/// Value parsers with the messages usage errors print.
enum ArgumentValue {
    /// A whole number from 0 to `maximum`: the daemon's own limit, checked
    /// here so that every out-of-range value is a usage error (exit 2),
    /// whichever side of the range it falls.
    static func count(_ text: String, for label: String, maximum: Int) throws(UsageError) -> Int {
        guard let value = Int(text), value >= 0 else {
            throw UsageError("invalid value '\(text)' for '\(label)': expected a non-negative integer")
        }
        guard value <= maximum else {
            throw UsageError("invalid value '\(text)' for '\(label)': at most \(maximum)")
        }
        return value
    }

    /// Also in kill(1)'s spelling, `-9`; `0` checks the processes exist.
    static func signal(_ text: String) throws(UsageError) -> UnixSignal {
        guard let signal = UnixSignal(commandArgument: text.hasPrefix("-") ? String(text.dropFirst()) : text) else {
            throw UsageError("unknown signal '\(text)'; expected a name such as HUP, TERM, USR1, or a number (0 checks the processes exist)")
        }
        return signal
    }

    static func seconds(_ text: String, for label: String, minimum: Double, maximum: Double) throws(UsageError) -> Double {
        guard let value = Double(text), value.isFinite, value >= minimum else {
            throw UsageError("invalid value '\(text)' for '\(label)': expected a number of seconds, at least \(minimum)")
        }
        guard value <= maximum else {
            throw UsageError("invalid value '\(text)' for '\(label)': at most \(Int(maximum)) seconds")
        }
        return value
    }
}
