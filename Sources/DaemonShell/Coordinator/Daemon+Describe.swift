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
                Self.lastReload(of: workerGroup.name, finished.result, at: wallNow - now.seconds(since: finished.at))
            }
            return ControlReply.item(id: id, .groupDescription(description))
        }
        control.send(items + [.done(id: id, .described(groups: items.count))], to: client)
    }

    /// The reload's outcome as `reload` reported it (one conversion for
    /// both: `ControlStreams.groupReloaded`), with when it ended.
    private static func lastReload(of group: String, _ result: ReloadResult, at: Double) -> GroupDescription.LastReload {
        let reloaded = ControlStreams.groupReloaded(group, result)
        return GroupDescription.LastReload(
            at: at, outcome: reloaded.outcome, replaced: reloaded.replaced, started: reloaded.started,
            signalled: reloaded.signalled, reason: reloaded.reason, notes: reloaded.notes)
    }
}
