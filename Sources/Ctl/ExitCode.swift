/// `appctl`'s exit statuses, stable for scripts.
enum ExitCode: Int32 {
    case success = 0
    /// The daemon answered with an error (unknown group, reload aborted...).
    case commandFailed = 1
    /// The command line (or the config file it names) could not be used.
    case usage = 2
    /// No daemon answered on the socket, or the connection broke.
    case unreachable = 3
}
