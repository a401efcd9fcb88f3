/// A command line `appctl` cannot run; exit status 2.
///
/// Printed the way swift-argument-parser does it: the problem, the usage
/// line of the subcommand at fault, and where to read more.
struct UsageError: Error, Equatable {
    /// `unknown option '--grp'; did you mean '--group'?`
    var message: String
    /// The subcommand whose usage line to show; nil for the tool's own.
    var subcommand: String?

    init(_ message: String, subcommand: String? = nil) {
        self.message = message
        self.subcommand = subcommand
    }

    /// The full text for stderr.
    var rendered: String {
        let spec = subcommand.flatMap(Subcommand.named)
        let helpCommand = spec.map { "appctl \($0.name) --help" } ?? "appctl --help"
        return "error: \(message)\n"
            + "Usage: \(HelpText.usage(of: spec))\n"
            + "  See '\(helpCommand)' for more information.\n"
    }
}
