/// What the command line asked for. Parsing is separate from running so a bad
/// argument is reported (exit 2) before the worker announces anything to the
/// master.
enum Mode {
    case help
    case web
    case queue(interval: Seconds)
    case cpu
    case ignoreTerm
    case crash(after: Seconds)

    enum ParseError: Error, CustomStringConvertible {
        case missingMode
        case unknownMode(String)
        case badOption(String)

        var description: String {
            switch self {
            case .missingMode: return "no mode given"
            case .unknownMode(let mode): return "unknown mode '\(mode)'"
            case .badOption(let problem): return problem
            }
        }
    }

    static let usage = """
        usage: demo-worker MODE [OPTIONS]
          web                        HTTP/1.1 on the inherited socket at fd 3 (LISTEN_FDS)
          queue [--interval SECONDS] finish a job every interval (default 2)
          cpu                        burn CPU until SIGTERM
          ignore-term                ignore SIGTERM; only SIGKILL ends it
          crash [--after SECONDS]    exit with status 3 after the delay (default 0)
        """

    static func parse(_ arguments: [String]) -> Result<Mode, ParseError> {
        guard let name = arguments.first else { return .failure(.missingMode) }
        let options = Array(arguments.dropFirst())
        switch name {
        case "-h", "--help", "help":
            return .success(.help)
        case "web":
            return noOptions(options, for: .web)
        case "cpu":
            return noOptions(options, for: .cpu)
        case "ignore-term":
            return noOptions(options, for: .ignoreTerm)
        case "queue":
            return secondsOption("--interval", in: options, default: Seconds(2), allowZero: false)
                .map { .queue(interval: $0) }
        case "crash":
            return secondsOption("--after", in: options, default: Seconds(0), allowZero: true)
                .map { .crash(after: $0) }
        default:
            return .failure(.unknownMode(name))
        }
    }

    private static func noOptions(_ options: [String], for mode: Mode) -> Result<Mode, ParseError> {
        guard let extra = options.first else { return .success(mode) }
        return .failure(.badOption("unexpected argument '\(extra)'"))
    }

    /// Accepts nothing, or exactly `flag SECONDS`.
    private static func secondsOption(
        _ flag: String, in options: [String], default fallback: Seconds, allowZero: Bool
    ) -> Result<Seconds, ParseError> {
        if options.isEmpty { return .success(fallback) }
        guard options.count == 2, options[0] == flag else {
            return .failure(.badOption("unexpected argument '\(options[0])' (only \(flag) SECONDS is accepted)"))
        }
        guard let value = Double(options[1]), value.isFinite,
              allowZero ? value >= 0 : value > 0, value <= 86_400
        else {
            let range = allowZero ? "from 0" : "above 0"
            return .failure(.badOption("\(flag) needs a number of seconds \(range), up to 86400, got '\(options[1])'"))
        }
        return .success(Seconds(value))
    }
}
