import Shared
import SupervisorCore

/// `describe`: each group's settings in force, compared with a fresh read of
/// the config file, and its last reload.
///
/// The daemon reads the file rather than leaving the comparison to appctl:
/// it knows which file it loaded (appctl may have been given only a socket),
/// reads it with the same loader and paths a reload uses, and so reports
/// exactly what `appctl reload` would change, including a file that no
/// longer loads. The read is a small file, on demand, like a reload's.
extension Daemon {
    func sendDescriptions(group: String?, request id: Int, to client: Int32) {
        let file: Result<DaemonConfig, ConfigError>? = config.sourcePath.map { path in
            Result { () throws(ConfigError) in try ConfigLoader.load(path: path) }
        }
        let now = MonotonicInstant.now()
        let wallNow = WallClock.now().seconds
        let items = supervisor.groups.filter { !$0.retiring && (group == nil || $0.name == group) }.map { workerGroup in
            var description = GroupDescription(name: workerGroup.name, config: GroupSettings(workerGroup.config),
                                               configFile: config.sourcePath, differences: nil)
            switch file {
            case nil:
                description.fileProblem = "appd runs the embedded demo config: there is no file to compare with"
            case .failure(let error)?:
                description.fileProblem = "the config file does not load, so a reload would be refused: \(error)"
            case .success(let loaded)?:
                if let entry = loaded.group(named: workerGroup.name) {
                    description.differences = GroupSettings.differences(running: workerGroup.config, file: entry)
                } else {
                    description.fileProblem = "the config file has no group '\(workerGroup.name)' any more: a reload stops and removes it"
                }
            }
            description.lastReload = workerGroup.lastReload.map { finished in
                Self.lastReload(finished.result, at: wallNow - now.seconds(since: finished.at))
            }
            return ControlReply.item(id: id, .groupDescription(description))
        }
        send(items + [.done(id: id, .described(groups: items.count))], to: client)
    }

    private static func lastReload(_ result: ReloadResult, at: Double) -> GroupDescription.LastReload {
        var last = GroupDescription.LastReload(at: at, outcome: .completed, replaced: result.replaced,
                                               started: result.started > 0 ? result.started : nil,
                                               notes: result.notes.isEmpty ? nil : result.notes)
        switch result.outcome {
        case .completed: break
        case .signalled(let processes):
            last.outcome = .signalled
            last.signalled = processes
        case .aborted(let reason):
            last.outcome = .aborted
            last.reason = reason
        }
        return last
    }
}
