import Shared

/// `appctl reload` prints a line as each process is replaced, so a long
/// rolling reload shows where it is, then one line per group's outcome.
enum ReloadProgressText {
    /// `web#0  pid 4711 → 4790`
    static func line(_ replaced: ProcessReplaced) -> String {
        "\(replaced.group)#\(replaced.id)  pid \(replaced.oldPid) → \(replaced.newPid)"
    }

    /// `web: reloaded, 4 processes replaced`
    static func line(_ reloaded: GroupReloaded) -> String {
        switch reloaded.outcome {
        case .completed:
            return "\(reloaded.group): reloaded, \(counted(reloaded.replaced, "process", "processes")) replaced"
        case .signalled:
            return "\(reloaded.group): not reloadable, sent SIGUSR1 to \(counted(reloaded.signalled ?? 0, "process", "processes"))"
        case .aborted:
            let reason = reloaded.reason.map { ": \($0)" } ?? ""
            return "\(reloaded.group): reload aborted after \(counted(reloaded.replaced, "process", "processes")) replaced\(reason)"
        }
    }
}
