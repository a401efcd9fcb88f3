import Shared

/// Reads `appctl`'s argv (without argv[0]) into a `CtlCommand`, or help to
/// print, or a `UsageError`. Nothing here touches the network or the disk.
enum CommandLineParser {
    /// What may come before the subcommand.
    static let toolOptions = OptionSpec.connectionOptions + [.help, .version]

    static func parse(_ arguments: [String]) throws(UsageError) -> ParsedCommandLine {
        let (leading, rest) = try ArgumentScanner(options: toolOptions).scan(arguments[...], stopAtPositional: true)
        if leading.has(.help) { return .help(HelpText.tool) }
        if leading.has(.version) { return .version }
        guard let name = rest.first else {
            throw UsageError("missing subcommand; one of: \(Subcommand.all.map(\.name).joined(separator: ", "))")
        }
        if name == "help" { return try help(for: rest.dropFirst()) }
        guard let subcommand = Subcommand.named(name) else {
            let names = Subcommand.all.map(\.name) + ["help"]
            let hint = Suggestion.closest(to: name, among: names).map { "; did you mean '\($0)'?" } ?? ""
            throw UsageError("unknown subcommand '\(name)'\(hint)")
        }
        do throws(UsageError) {
            let (scanned, _) = try ArgumentScanner(options: subcommand.acceptedOptions).scan(rest.dropFirst())
            if scanned.has(.help) { return .help(HelpText.help(for: subcommand)) }
            return .run(CtlCommand(
                request: try subcommand.makeRequest(scanned),
                json: scanned.has(.json),
                wide: scanned.has(.wide),
                socket: try socketChoice(leading, scanned),
                timeout: try timeout(leading, scanned)
            ))
        } catch {
            throw UsageError(error.message, subcommand: subcommand.name)
        }
    }

    /// `appctl help` and `appctl help status` (and `help --help`, `help
    /// status -h`: asking for help about help is still asking for help).
    private static func help(for arguments: ArraySlice<String>) throws(UsageError) -> ParsedCommandLine {
        let names = arguments.filter { $0 != "--help" && $0 != "-h" }
        guard let name = names.first else { return .help(HelpText.tool) }
        if let extra = names.dropFirst().first {
            throw UsageError("unexpected argument '\(extra)': 'appctl help' takes one subcommand")
        }
        guard let subcommand = Subcommand.named(name) else {
            let hint = Suggestion.closest(to: name, among: Subcommand.all.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
            throw UsageError("no help for '\(name)': not a subcommand\(hint)")
        }
        return .help(HelpText.help(for: subcommand))
    }

    /// `--timeout`, before or after the subcommand, once.
    private static func timeout(_ scans: ScannedArguments...) throws(UsageError) -> Double? {
        let given = scans.compactMap { $0.value(of: .timeout) }
        guard let text = given.first else { return nil }
        if given.count > 1 { throw UsageError("option '\(OptionSpec.timeout.displayName)' given more than once") }
        return try ArgumentValue.seconds(text, for: OptionSpec.timeout.displayName, minimum: 0.1, maximum: 86_400)
    }

    /// `--socket` and `--config` may come before or after the subcommand,
    /// but only one of them, once.
    private static func socketChoice(_ scans: ScannedArguments...) throws(UsageError) -> SocketChoice {
        var choice = SocketChoice.automatic
        for scanned in scans {
            for (option, make) in [(OptionSpec.socket, SocketChoice.path), (OptionSpec.config, SocketChoice.config)] {
                guard let value = scanned.value(of: option) else { continue }
                guard choice == .automatic else {
                    throw UsageError("give the socket once: with either --socket <path> or --config <file>")
                }
                choice = make(value)
            }
        }
        return choice
    }
}
