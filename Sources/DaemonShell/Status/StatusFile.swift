import Glibc
import Shared
import SupervisorCore

/// The `kill` fallback: SIGUSR2 writes the status table to statusFile, and
/// SIGIO the connections to statusFile + `.connections`, for operators
/// without appctl (or with a wedged control socket). Same tables, same
/// figures as `appctl status` and `appctl connections`, with what workers
/// sent escaped for a terminal (`cat` is how the file is read).
struct StatusFile {
    let path: String
    let log: DaemonLog

    func writeStatus(_ report: StatusReport) {
        writeSnapshot(StatusTable.render(report.escapedForTerminal(), now: WallClock.now().seconds), to: path)
    }

    func writeConnections(_ entries: [ConnectionEntry]) {
        writeSnapshot(ConnectionTable.render(entries.map { $0.escapedForTerminal() }), to: path + ".connections")
    }

    /// Written whole to a temporary file, then renamed, so a reader never
    /// sees half: a failed write leaves the previous snapshot in place. The
    /// directory is checked again and the files are opened through it
    /// (`RuntimeDirectory.replaceFile`): a symlink there is replaced, never
    /// written through.
    private func writeSnapshot(_ text: String, to path: String) {
        do throws(SystemError) {
            let (directory, name) = try RuntimeDirectory.open(parentOf: path)
            defer { directory.close() }
            try directory.replaceFile(name, with: Array(text.utf8))
            log.info("status written to \(path)")
        } catch {
            log.error("cannot write \(path): \(error)")
        }
    }
}
