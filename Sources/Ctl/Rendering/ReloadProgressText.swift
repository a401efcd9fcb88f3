import Shared

/// `appctl reload` prints a line as each process is replaced, so a long
/// rolling reload shows where it is, then one line per group's outcome.
enum ReloadProgressText {
    /// `web#0[4711] → web#0[4790]`, or `web#1 not running → web#1[4791]`:
    /// a worker spelled as in every log, so the line greps with them.
    static func line(_ replaced: ProcessReplaced) -> String {
        let replaced = replaced.escapedForTerminal()
        let worker = "\(replaced.group)#\(replaced.id)"
        let old = replaced.oldPid.map { "\(worker)[\($0)]" } ?? "\(worker) not running"
        return "\(old) → \(worker)[\(replaced.newPid)]"
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
