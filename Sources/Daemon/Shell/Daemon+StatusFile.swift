import Glibc
import Shared
import SupervisorCore

/// The `kill` fallback: SIGUSR2 writes the status table to statusFile, and
/// SIGIO the connections to statusFile + `.connections`, for operators
/// without appctl (or with a wedged control socket). Same tables, same
/// figures as `appctl status` and `appctl connections`.
extension Daemon {
    func writeStatusFile() {
        let text = StatusTable.render(statusReport(group: nil), now: WallClock.now().seconds)
        writeSnapshot(text, to: config.statusFile)
    }

    func writeConnectionsFile() {
        writeSnapshot(ConnectionTable.render(connectionEntries(group: nil)), to: config.statusFile + ".connections")
    }

    /// Written whole to a temporary file, then renamed, so a reader never
    /// sees half: a failed write leaves the previous snapshot in place.
    private func writeSnapshot(_ text: String, to path: String) {
        let temporary = path + ".tmp"
        do throws(SystemError) {
            let fd = try FileIO.createTruncated(path: temporary, mode: 0o644)
            do {
                defer { FileIO.close(fd) }
                try FileIO.writeAll(fd, Array(text.utf8))
            }
            try checked("rename(\(temporary), \(path))", rename(temporary, path))
            log.info("status written to \(path)")
        } catch {
            log.error("cannot write \(path): \(error)")
        }
    }
}
