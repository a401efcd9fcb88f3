import Shared

/// What one `appctl` invocation asks for, read from argv: the protocol
/// command to send, how to print the reply, and where to find the daemon.
struct CtlCommand: Equatable {
    var request: ControlCommand
    /// Print JSON with raw numbers instead of tables with units.
    var json: Bool = false
    /// `status --wide`: every column, nothing cut to fit the screen.
    var wide: Bool = false
    var socket: SocketChoice = .automatic
    /// `--timeout SECONDS`: how long to wait for the daemon (nil: the
    /// default, `ControlConnection.defaultTimeout`).
    var timeout: Double? = nil
}

/// How the user picked the daemon's control socket on the command line.
enum SocketChoice: Equatable {
    /// Neither flag: `$APPCTL_SOCKET`, then `./appd.json`, then the default paths in order.
    case automatic
    /// `--socket PATH`.
    case path(String)
    /// `--config FILE`: the config's `controlSocket` (unless `$APPCTL_SOCKET` is set).
    case config(String)
}

/// The outcome of reading argv: something to run, or text to print at once.
enum ParsedCommandLine: Equatable {
    case run(CtlCommand)
    /// `--help`, `-h` or `help`: print this text and exit 0.
    case help(String)
    /// `--version`.
    case version
}
