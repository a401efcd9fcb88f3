/// What the command line asked for. Parsing is separate from running so a bad
/// argument is reported (exit 2) before the worker announces anything to the
/// master.
enum Mode: Equatable {
    case help
    case web(WebOptions)
    case queue(interval: Seconds)
    case cpu
    case ignoreTerm
    case crash(after: Seconds)
    case hang(after: Seconds)

    struct WebOptions: Equatable {
        /// Time spent "loading the app" before READY=1 and before the
        /// listening socket is touched, as gunicorn or uvicorn importing a
        /// large application.
        var bootDelay = Seconds(0)
        /// Bind 127.0.0.1:port itself instead of taking the socket at fd 3:
        /// a program that cannot run twice at once.
        var ownPort: UInt16?
    }

    enum ParseError: Error, Equatable, CustomStringConvertible {
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
          web [--boot-delay SECONDS] [--port N]
                                     HTTP/1.1 on the inherited socket at fd 3 (LISTEN_FDS);
                                     --boot-delay: wait before serving and READY=1 (default 0);
                                     --port: bind 127.0.0.1:N itself instead (exit 2 if taken)
          queue [--interval SECONDS] finish a job every interval (default 2)
          cpu                        burn CPU until SIGTERM
          ignore-term                ignore SIGTERM; only SIGKILL ends it
          crash [--after SECONDS]    exit with status 3 after the delay (default 0)
          hang [--after SECONDS]     after the delay (default 1) stop pinging the
                                     watchdog and hang; only SIGKILL ends it then
        With WATCHDOG_USEC set, web, queue and hang send WATCHDOG=1 every half of it.
        """

    /// A `--flag VALUE` a mode accepts; `placeholder` names the value in messages.
    private struct Option {
        let flag: String
        let placeholder: String
    }

    private static let bootDelay = Option(flag: "--boot-delay", placeholder: "SECONDS")
    private static let port = Option(flag: "--port", placeholder: "N")
    private static let interval = Option(flag: "--interval", placeholder: "SECONDS")
    private static let after = Option(flag: "--after", placeholder: "SECONDS")

    static func parse(_ arguments: [String]) -> Result<Mode, ParseError> {
        guard let name = arguments.first else { return .failure(.missingMode) }
        let options = Array(arguments.dropFirst())
        switch name {
        case "-h", "--help", "help":
            return .success(.help)
        case "web":
            return values(of: [bootDelay, port], in: options, for: name).flatMap { given in
                seconds(bootDelay, given, default: Seconds(0), allowZero: true).flatMap { delay in
                    tcpPort(port, given).map { .web(WebOptions(bootDelay: delay, ownPort: $0)) }
                }
            }
        case "cpu":
            return values(of: [], in: options, for: name).map { _ in .cpu }
        case "ignore-term":
            return values(of: [], in: options, for: name).map { _ in .ignoreTerm }
        case "queue":
            return values(of: [interval], in: options, for: name).flatMap { given in
                seconds(interval, given, default: Seconds(2), allowZero: false).map { .queue(interval: $0) }
            }
        case "crash":
            return values(of: [after], in: options, for: name).flatMap { given in
                seconds(after, given, default: Seconds(0), allowZero: true).map { .crash(after: $0) }
            }
        case "hang":
            return values(of: [after], in: options, for: name).flatMap { given in
                seconds(after, given, default: Seconds(1), allowZero: true).map { .hang(after: $0) }
            }
        default:
            return .failure(.unknownMode(name))
        }
    }

    /// The values of `options`, which must be `--flag VALUE` pairs of the
    /// `accepted` flags, each given at most once; keyed by flag.
    private static func values(
        of accepted: [Option], in options: [String], for mode: String
    ) -> Result<[String: String], ParseError> {
        var given: [String: String] = [:]
        var index = 0
        while index < options.count {
            let argument = options[index]
            guard let option = accepted.first(where: { $0.flag == argument }) else {
                let expected = accepted.isEmpty
                    ? "\(mode) takes no options"
                    : "\(mode) accepts " + accepted.map { "\($0.flag) \($0.placeholder)" }.joined(separator: ", ")
                return .failure(.badOption("unexpected argument '\(argument)' (\(expected))"))
            }
            guard given[option.flag] == nil else {
                return .failure(.badOption("\(option.flag) is given twice"))
            }
            guard index + 1 < options.count else {
                return .failure(.badOption("\(option.flag) needs a value: \(option.flag) \(option.placeholder)"))
            }
            given[option.flag] = options[index + 1]
            index += 2
        }
        return .success(given)
    }

    /// The option's value as seconds, up to a day, or `fallback` when absent.
    private static func seconds(
        _ option: Option, _ given: [String: String], default fallback: Seconds, allowZero: Bool
    ) -> Result<Seconds, ParseError> {
        guard let text = given[option.flag] else { return .success(fallback) }
        guard let value = Double(text), value.isFinite, allowZero ? value >= 0 : value > 0, value <= 86_400 else {
            let range = allowZero ? "from 0" : "above 0"
            return .failure(.badOption("\(option.flag) needs a number of seconds \(range), up to 86400, got '\(text)'"))
        }
        return .success(Seconds(value))
    }

    /// The option's value as a TCP port, or nil when absent.
    private static func tcpPort(_ option: Option, _ given: [String: String]) -> Result<UInt16?, ParseError> {
        guard let text = given[option.flag] else { return .success(nil) }
        guard let port = UInt16(text), port > 0 else {
            return .failure(.badOption("\(option.flag) needs a TCP port from 1 to 65535, got '\(text)'"))
        }
        return .success(port)
    }
}
