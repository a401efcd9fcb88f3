import Shared
import SupervisorCore

/// Signals as actions, Workerman's table: INT/TERM stop, USR1/HUP reload,
/// USR2 status snapshot, IO connections snapshot, CHLD reap.
extension Daemon {
    public static let handledSignals: [UnixSignal] = [.interrupt, .terminate, .user1, .hangup, .user2, .io, .child]

    func handleSignals() {
        for signal in signals.drain() {
            switch signal {
            case .interrupt, .terminate:
                log.info("got \(signal): stopping")
                stopDaemon()
            case .user1, .hangup:
                log.info("got \(signal): reloading")
                reloadBySignal()
            case .user2:
                statusFile.writeStatus(status.report(group: nil, supervisor: supervisor, reports: workers.reports))
            case .io:
                statusFile.writeConnections(status.connectionEntries(group: nil, supervisor: supervisor))
            case .child:
                reapChildren()
            default:
                break
            }
        }
    }

    /// A signal cannot be answered `busy`: a reload asked while one runs is
    /// remembered and runs when the current one ends (several coalesce into
    /// one, like the signals themselves), so the latest config and code end
    /// up everywhere.
    func reloadBySignal() {
        switch reload(group: nil) {
        case .success:
            break
        case .failure(.rejected(.reloadInProgress(let group))):
            reloadQueued = true
            log.info("group \(group) is still reloading; the new reload follows when it ends")
        case .failure(let refusal):
            log.error("reload refused: \(refusal)")
        }
    }

    /// Called once per loop turn: starts a queued reload once no group is reloading.
    func runQueuedReload() {
        guard reloadQueued, !supervisor.isStopping, !supervisor.groups.contains(where: { $0.reload != nil }) else { return }
        reloadQueued = false
        log.info("starting the reload asked for during the previous one")
        reloadBySignal()
    }

    func stopDaemon() {
        // A stop is never refused: a second one while stopping is a no-op.
        perform((try? supervisor.apply(.stopDaemon, now: .now())) ?? [])
    }

    /// Re-reads the config file (the embedded demo has none to re-read),
    /// binds any new listen address and opens any new log file, then asks
    /// the core for the reload. Anything wrong refuses the whole reload and
    /// leaves the running configuration in force: nothing is stopped, no new
    /// socket stays bound, no new log file stays open.
    /// With a group, only that group's entry of the file is applied.
    func reload(group: String?) -> Result<Void, ReloadRefusal> {
        var newConfig: DaemonConfig?
        var openedLogs = GroupLogs.OpenedFiles()
        if let path = config.sourcePath {
            do {
                var loaded = try ConfigLoader.load(path: path)
                let privilegeProblems = ConfigLoader.privilegeProblems(in: loaded)
                guard privilegeProblems.isEmpty else { return .failure(.invalidConfig(ConfigError(problems: privilegeProblems))) }
                applyOverrides(&loaded)
                keepDaemonSettings(in: &loaded)
                if let group {
                    guard let entry = loaded.group(named: group) else { return .failure(.rejected(.unknownGroup(group))) }
                    loaded = config.replacing(entry)
                }
                try listeners.bindAll(for: loaded)
                newConfig = loaded
            } catch let error as ConfigError {
                reloadsRefused += 1
                return .failure(.invalidConfig(error))
            } catch {
                reloadsRefused += 1
                return .failure(.cannotBind(String(describing: error)))
            }
            do {
                openedLogs = try workers.logs.openFiles(for: newConfig!)
            } catch {
                listeners.closeUnused(by: supervisor.configsInUse)
                return .failure(.cannotOpenLog(error.description))
            }
        }
        do {
            perform(try supervisor.apply(.reload(group: group, config: newConfig), now: .now()))
        } catch {
            listeners.closeUnused(by: supervisor.configsInUse)
            workers.logs.discard(openedLogs)
            return .failure(.rejected(error))
        }
        if let newConfig {
            config = newConfig
            workers.logs.apply(newConfig, opened: openedLogs)
        }
        // What the groups use now, and what a failing reload would roll back to.
        listeners.closeUnused(by: supervisor.configsInUse)
        return .success(())
    }

    /// Paths the running daemon already holds (socket, pid file, log) cannot
    /// change under it; a changed value is reported and takes effect at the
    /// next start.
    private func keepDaemonSettings(in loaded: inout DaemonConfig) {
        let held: [(String, KeyPath<DaemonConfig, String>)] = [
            ("controlSocket", \.controlSocket), ("pidFile", \.pidFile), ("logFile", \.daemonLog.path), ("statusFile", \.statusFile),
        ]
        for (name, path) in held where loaded[keyPath: path] != config[keyPath: path] {
            log.warning("\(name) changed to \(loaded[keyPath: path]); it takes effect when appd restarts")
        }
        if loaded.daemonLog.path == config.daemonLog.path, loaded.daemonLog != config.daemonLog {
            log.warning("logFile's maxBytes, keep or format changed; they take effect when appd restarts")
        }
        loaded.controlSocket = config.controlSocket
        loaded.pidFile = config.pidFile
        loaded.daemonLog = config.daemonLog
        loaded.statusFile = config.statusFile
        if loaded.metrics != config.metrics {
            log.warning("metrics changed to \(loaded.metrics.map { "\($0.listen)" } ?? "none"); it takes effect when appd restarts")
        }
        loaded.metrics = config.metrics
    }
}

/// Why a reload did not happen.
enum ReloadRefusal: Error, CustomStringConvertible {
    case invalidConfig(ConfigError)
    case cannotBind(String)
    case cannotOpenLog(String)
    case rejected(RequestRejection)

    var description: String {
        switch self {
        case .invalidConfig(let error): return "the config has problems; the running one stays in force:\n\(error)"
        case .cannotBind(let reason): return "cannot bind a new listen address: \(reason)"
        case .cannotOpenLog(let reason): return "cannot open a new log file: \(reason)"
        case .rejected(let rejection): return rejection.description
        }
    }
}
