import Glibc
import Shared

/// The `kill` fallback: SIGUSR2 writes the status snapshot to statusFile,
/// for operators without appctl (or with a wedged control socket).
extension Daemon {
    func writeStatusFile() {
        let snapshot = StatusSnapshot(supervisor, now: .now())
        var text = "appd \(AppdVersion.current), pid \(getpid()), up \(HumanFormat.duration(seconds: WallClock.now().seconds - startedAt.seconds))"
        text += ", config \(config.sourcePath ?? "embedded demo")\n\n"
        var rows = [["GROUP", "ID", "PID", "STATE", "UPTIME", "RESTARTS", "LAST EXIT"]]
        for process in snapshot.processes {
            rows.append([
                process.worker.group, String(process.worker.id), process.pid.map(String.init) ?? "-",
                process.state + (process.backoffRemaining.map { " (\(HumanFormat.duration(seconds: $0)))" } ?? ""),
                process.uptime.map { HumanFormat.duration(seconds: $0) } ?? "-", String(process.restarts),
                process.lastExit?.description ?? "-",
            ])
        }
        text += TextTable.render(rows)
        text += "\nexits by status:\n"
        for group in snapshot.groups {
            let tally = group.exits.sorted.map { "\($0.status) ×\($0.count)" }
            text += "  \(group.name) (\(group.state)): " + (tally.isEmpty ? "none" : tally.joined(separator: ", ")) + "\n"
        }
        writeSnapshot(text, to: config.statusFile)
    }

    func writeConnectionsFile() {
        writeSnapshot("connections are not collected by this version of appd\n", to: config.statusFile + ".connections")
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
