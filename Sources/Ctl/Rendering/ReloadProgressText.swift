import Shared

/// `appctl reload` prints a line as each process is replaced, so a long
/// rolling reload shows where it is, then one line per group's outcome.
enum ReloadProgressText {
    /// `web#0  pid 4711 → 4790`, or `web#1  not running → started 4791`
    static func line(_ replaced: ProcessReplaced) -> String {
        let replaced = replaced.escapedForTerminal()
        guard let old = replaced.oldPid else { return "\(replaced.group)#\(replaced.id)  not running → started \(replaced.newPid)" }
        return "\(replaced.group)#\(replaced.id)  pid \(old) → \(replaced.newPid)"
    }

    /// `web: reloaded, 4 processes replaced`, then one indented line per note.
    /// The reason and the failed process's output lines are escaped (`TerminalText`).
    static func line(_ reloaded: GroupReloaded) -> String {
        let reloaded = reloaded.escapedForTerminal()
        let outcome: String
        switch reloaded.outcome {
        case .completed:
            let started = reloaded.started.map { $0 > 0 ? ", \(counted($0, "slot that was not running", "slots that were not running")) started" : "" } ?? ""
            outcome = "\(reloaded.group): reloaded, \(counted(reloaded.replaced, "process", "processes")) replaced\(started)"
        case .signalled:
            outcome = "\(reloaded.group): not reloadable, sent SIGUSR1 to \(counted(reloaded.signalled ?? 0, "process", "processes"))"
        case .aborted:
            let reason = reloaded.reason.map { ": \($0)" } ?? ""
            outcome = "\(reloaded.group): reload aborted after \(counted(reloaded.replaced, "process", "processes")) replaced\(reason)"
        }
        let output = (reloaded.output ?? []).map { "  | \($0)" }
        return ([outcome] + output + (reloaded.notes ?? []).map { "  note: \($0)" }).joined(separator: "\n")
    }
}
