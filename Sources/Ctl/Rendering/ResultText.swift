import Shared

/// The one line `appctl` prints when a command that streams nothing succeeds.
enum ResultText {
    /// `socketPath` and `elapsed` (seconds from connect to answer) are for `ping`.
    /// What the daemon sent is escaped (`TerminalText`).
    static func line(for command: ControlCommand, _ result: ControlResult, socketPath: String, elapsed: Double) -> String {
        let result = result.escapedForTerminal()
        switch command {
        case .ping:
            return "pong from appd at \(socketPath) in \(HumanFormat.oneDecimal(elapsed * 1000)) ms"
        case .version:
            var text = "appctl \(AppdVersion.current)\nappd   \(result.version ?? "unknown")"
            if let remote = result.protocolVersion {
                text += " (control protocol \(remote))"
                if remote != AppdVersion.controlProtocol {
                    text += "\nwarning: appctl speaks control protocol \(AppdVersion.controlProtocol); some commands may fail"
                }
            }
            return text
        case .restart(let group):
            return group.map { "restarting group \($0)" } ?? "restarting every group"
        case .stop(let group):
            if result.stopping == true { return "appd is stopping" }
            return "stopped group \(result.stopped ?? group ?? "")"
        case .start(let group):
            return "started group \(result.started ?? group)"
        case .scale(let group, let count):
            return "scaled group \(result.group ?? group) to \(counted(result.count ?? count, "process", "processes"))"
        case .signal(let group, let signal):
            let target = group.map { " of group \($0)" } ?? ""
            let count = result.signalled ?? 0
            if signal == .existenceCheck {
                return "signal 0: \(counted(count, "process", "processes"))\(target) \(count == 1 ? "is" : "are") alive"
            }
            return "sent \(signal) to \(counted(count, "process", "processes"))\(target)"
        case .reopenLogs:
            return "reopened \(counted(result.reopened ?? 0, "log file", "log files"))"
        case .health:
            let verdict = result.healthy == true ? "healthy" : "unhealthy"
            return ([verdict + ": " + (result.summary ?? "")] + (result.problems ?? []).map { "  " + $0 }).joined(separator: "\n")
        case .status, .connections, .reload, .logs, .describe, .metrics:
            return ""
        }
    }
}
