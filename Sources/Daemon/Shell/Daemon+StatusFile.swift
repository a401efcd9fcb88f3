import Glibc
import Shared

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

    /// Written to a temporary file and renamed, so a reader never sees half.
    private func writeSnapshot(_ text: String, to path: String) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            log.error("cannot write \(temporary): \(SystemError.last("open").description)")
            return
        }
        let written = try? FileIO.write(fd, Array(text.utf8))
        FileIO.close(fd)
        if written != nil, rename(temporary, path) == 0 {
            log.info("status written to \(path)")
        } else {
            log.error("cannot write \(path)")
        }
    }
}
