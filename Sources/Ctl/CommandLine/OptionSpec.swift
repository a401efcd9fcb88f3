/// One option as `appctl` declares it: read by `ArgumentScanner`, listed by
/// `HelpText`, offered by `Suggestion`, all from this one declaration.
struct OptionSpec: Equatable, Sendable {
    enum Value: Equatable, Sendable {
        /// A flag: `--json`.
        case none
        /// `--group <group>` or `--group=<group>`.
        case required(placeholder: String)
        /// `--watch [<seconds>]`: the next argument is taken only when it is a number.
        case optional(placeholder: String)
    }

    /// Without the dashes: "group".
    let long: String
    let short: Character?
    let value: Value
    let help: String

    /// How help shows it: `-g, --group <group>`.
    var label: String {
        let names = (short.map { "-\($0), " } ?? "") + "--\(long)"
        switch value {
        case .none: return names
        case .required(let placeholder): return "\(names) <\(placeholder)>"
        case .optional(let placeholder): return "\(names) [<\(placeholder)>]"
        }
    }

    /// How errors name it: `--group <group>`.
    var displayName: String {
        switch value {
        case .none: return "--\(long)"
        case .required(let placeholder): return "--\(long) <\(placeholder)>"
        case .optional(let placeholder): return "--\(long) [<\(placeholder)>]"
        }
    }
}

extension OptionSpec {
    static let group = OptionSpec(long: "group", short: "g", value: .required(placeholder: "group"),
                                  help: "The group to act on; the same as giving <group> as an argument.")
    static let json = OptionSpec(long: "json", short: nil, value: .none,
                                 help: "Print JSON with raw numbers (bytes, seconds) instead of text.")
    static let socket = OptionSpec(long: "socket", short: "s", value: .required(placeholder: "path"),
                                   help: "The daemon's control socket. Default: $APPCTL_SOCKET, then controlSocket of --config <file> or ./appd.json, then $XDG_RUNTIME_DIR/appd/appd.sock, else /run/appd/appd.sock for root, else /tmp/appd-<uid>/appd.sock.")
    static let config = OptionSpec(long: "config", short: "c", value: .required(placeholder: "file"),
                                   help: "Read the socket path (controlSocket) from this appd config.")
    static let help = OptionSpec(long: "help", short: "h", value: .none, help: "Show help information.")
    static let version = OptionSpec(long: "version", short: nil, value: .none, help: "Show the version of appctl.")

    static let timeout = OptionSpec(
        long: "timeout", short: nil, value: .required(placeholder: "seconds"),
        help: "Give up (exit 3) when appd does not answer within <seconds> (default: 10). Streams (--watch, --follow, "
            + "reload, stop <group>) may be quiet for long: after <seconds> of quiet appctl pings appd on the same "
            + "connection and gives up only if that goes unanswered for <seconds> more.")

    /// Accepted before and after the subcommand alike: `appctl --socket S status`
    /// and `appctl status --socket S` both work.
    static let connectionOptions = [socket, config, timeout]
}
