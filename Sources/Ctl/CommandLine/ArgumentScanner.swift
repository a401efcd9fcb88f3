import Shared

/// Options and positional arguments as they appeared on the command line,
/// before any meaning is given to them.
struct ScannedArguments: Equatable {
    var positionals: [String] = []
    /// By long name; the value is nil for a flag or an optional value left out.
    var options: [String: String?] = [:]

    func has(_ option: OptionSpec) -> Bool { options[option.long] != nil }

    func value(of option: OptionSpec) -> String? { options[option.long] ?? nil }
}

/// Splits argv into options and positionals against a list of `OptionSpec`s.
///
/// Accepts `--name value`, `--name=value`, `-n value`, and `--` to end the
/// options. A negative number (`-9`) is an argument, not an option, so
/// `appctl signal web -9` reads as it should.
struct ArgumentScanner {
    let options: [OptionSpec]

    /// Scans `arguments`; with `stopAtPositional`, stops at the first
    /// positional (the subcommand) and returns where it stopped.
    func scan(_ arguments: ArraySlice<String>, stopAtPositional: Bool = false) throws(UsageError) -> (ScannedArguments, rest: ArraySlice<String>) {
        var scanned = ScannedArguments()
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                if stopAtPositional { return (scanned, arguments[index...]) }
                scanned.positionals.append(contentsOf: arguments[index...])
                break
            }
            guard argument.hasPrefix("-"), argument.count > 1, Double(argument) == nil else {
                if stopAtPositional { return (scanned, arguments[(index - 1)...]) }
                scanned.positionals.append(argument)
                continue
            }
            let (name, inlineValue) = split(argument)
            let option = try lookUp(name)
            guard scanned.options[option.long] == nil else {
                throw UsageError("option '\(option.displayName)' given more than once")
            }
            switch option.value {
            case .none:
                if inlineValue != nil { throw UsageError("option '--\(option.long)' takes no value") }
                scanned.options[option.long] = .some(nil)
            case .required:
                if let inlineValue {
                    scanned.options[option.long] = inlineValue
                } else if index < arguments.endIndex, !looksLikeOption(arguments[index]) {
                    scanned.options[option.long] = arguments[index]
                    index += 1
                } else {
                    throw UsageError("missing value for '\(option.displayName)'")
                }
            case .optional:
                if let inlineValue {
                    scanned.options[option.long] = inlineValue
                } else if index < arguments.endIndex, Double(arguments[index]) != nil {
                    scanned.options[option.long] = arguments[index]
                    index += 1
                } else {
                    scanned.options[option.long] = .some(nil)
                }
            }
        }
        return (scanned, arguments[arguments.endIndex...])
    }

    /// `--group=web` → ("--group", "web"); `--group` → ("--group", nil).
    private func split(_ argument: String) -> (name: String, value: String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    private func lookUp(_ name: String) throws(UsageError) -> OptionSpec {
        let found = options.first { option in
            name == "--\(option.long)" || option.short.map { name == "-\($0)" } == true
        }
        if let found { return found }
        let spellings = options.map { "--\($0.long)" } + options.compactMap { $0.short.map { "-\($0)" } }
        if let suggestion = Suggestion.closest(to: name, among: spellings) {
            throw UsageError("unknown option '\(name)'; did you mean '\(suggestion)'?")
        }
        throw UsageError("unknown option '\(name)'")
    }

    private func looksLikeOption(_ argument: String) -> Bool {
        argument.hasPrefix("-") && argument.count > 1 && Double(argument) == nil
    }
}
