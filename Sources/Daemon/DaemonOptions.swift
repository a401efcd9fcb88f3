import Shared
import SupervisorCore

/// `appd`'s command line, parsed into a typed value or a usage error.
struct DaemonOptions: Equatable {
    var configPath: String?
    var check = false
    var daemonize = false
    var pidFile: String?
    var socket: String?
    var logFile: String?
    var verbose = false

    static let usage = """
        USAGE: appd [--config FILE] [--daemonize] [--pid-file F] [--socket S] [--log-file L] [--verbose]
               appd --check [--config FILE]

        Keeps named groups of worker processes running: respawns them, reloads
        them one at a time, stops them cleanly. Without --config, ./appd.json is
        used if present, else the embedded demo (a `web` group serving HTTP on
        127.0.0.1:8080, or $APPD_DEMO_PORT, and a `queue` group).

        OPTIONS:
          --config FILE     JSON5 config file
          --check           validate the config and that each group's command
                            can be run; print every problem, exit 0 or 1
          --daemonize       detach (setsid, output to the log file); returns once
                            the daemon is up, with an exit status that says so
          --pid-file F      override the config's pidFile
          --socket S        override the config's controlSocket
          --log-file L      override the config's logFile ("-" = stderr)
          --verbose         also log debug lines (e.g. notifications that came
                            after their worker exited)
          --version         print the version
          -h, --help        show this help

        SIGNALS: INT/TERM stop, USR1/HUP reload, USR2 write the status file,
        IO write the connections file. Control it with `appctl`.

        EXAMPLE: appd --config /etc/appd.json --daemonize
        """

    enum Parsed: Equatable {
        case run(DaemonOptions)
        case help
        case version
    }

    struct UsageError: Error, CustomStringConvertible {
        var description: String

        /// What appd prints for it: one line naming the problem, and where
        /// the whole help is (the help itself would bury the problem).
        var rendered: String { "appd: \(description); see 'appd --help'\n" }
    }

    /// Every option, for "did you mean".
    static let knownOptions = [
        "--config", "--check", "--daemonize", "--pid-file", "--socket", "--log-file", "--verbose", "--version", "--help",
    ]

    static func parse(_ arguments: [String]) throws(UsageError) -> Parsed {
        var options = DaemonOptions()
        var rest = arguments[...]
        func value(for flag: String) throws(UsageError) -> String {
            guard let value = rest.popFirst(), !value.hasPrefix("--") || value == "-" else {
                throw UsageError(description: "\(flag) needs a value")
            }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--check": options.check = true
            case "--daemonize": options.daemonize = true
            case "--verbose": options.verbose = true
            case "--config": options.configPath = try value(for: argument)
            case "--pid-file": options.pidFile = try value(for: argument)
            case "--socket": options.socket = try value(for: argument)
            case "--log-file": options.logFile = try value(for: argument)
            default:
                let name = String(argument.prefix { $0 != "=" })
                let hint = argument.hasPrefix("-")
                    ? Suggestion.closest(to: name, among: knownOptions).map { " (did you mean '\($0)'?)" } ?? "" : ""
                throw UsageError(description: "unknown argument '\(argument)'\(hint)")
            }
        }
        return .run(options)
    }

    /// Command-line paths win over the config's; relative ones are relative
    /// to the current directory, as a shell user expects.
    func applyOverrides(to config: inout DaemonConfig, currentDirectory: String) {
        func absolute(_ path: String) -> String { path.hasPrefix("/") || path == "-" ? path : currentDirectory + "/" + path }
        if let pidFile { config.pidFile = absolute(pidFile) }
        if let socket { config.controlSocket = absolute(socket) }
        if let logFile { config.daemonLog.path = absolute(logFile) }
    }
}
