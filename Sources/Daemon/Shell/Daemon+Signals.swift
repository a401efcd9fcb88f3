import Shared

/// Signals as actions, Workerman's table: INT/TERM stop, USR1/HUP reload,
/// USR2 status snapshot, IO connections snapshot, CHLD reap.
extension Daemon {
    static let handledSignals: [UnixSignal] = [.interrupt, .terminate, .user1, .hangup, .user2, .io, .child]

    func handleSignals() {
        for signal in signals.drain() {
            switch signal {
            case .interrupt, .terminate:
                log.info("got \(signal): stopping")
                stopDaemon()
            case .user1, .hangup:
                log.info("got \(signal): reloading")
                if case .failure(let refusal) = reload(group: nil) { log.error("reload refused: \(refusal)") }
            case .user2:
                writeStatusFile()
            case .io:
                writeConnectionsFile()
            case .child:
                reapChildren()
            default:
                break
            }
        }
    }

    func stopDaemon() {
        // A stop is never refused: a second one while stopping is a no-op.
        perform((try? supervisor.apply(.stopDaemon, now: .now())) ?? [])
    }

    /// Re-reads the config file (the embedded demo has none to re-read),
    /// binds any new listen address, then asks the core for the reload.
    /// Anything wrong refuses the whole reload and leaves the running
    /// configuration in force: nothing is stopped.
    func reload(group: String?) -> Result<Void, ReloadRefusal> {
        var newConfig: DaemonConfig?
        if let path = config.sourcePath {
            do {
                var loaded = try ConfigLoader.load(path: path)
                options.applyOverrides(to: &loaded, currentDirectory: startDirectory)
                keepDaemonSettings(in: &loaded)
                try listeners.bindAll(for: loaded)
                newConfig = loaded
            } catch let error as ConfigError {
                return .failure(.invalidConfig(error))
            } catch {
                return .failure(.cannotBind(String(describing: error)))
            }
        }
        do {
            perform(try supervisor.apply(.reload(group: group, config: newConfig), now: .now()))
        } catch {
            return .failure(.rejected(error))
        }
        if let newConfig {
            config = newConfig
            listeners.closeUnused(by: newConfig)
        }
        return .success(())
    }

    /// Paths the running daemon already holds (socket, pid file, log) cannot
    /// change under it; a changed value is reported and takes effect at the
    /// next start.
    private func keepDaemonSettings(in loaded: inout DaemonConfig) {
        let held: [(String, KeyPath<DaemonConfig, String>)] = [
            ("controlSocket", \.controlSocket), ("pidFile", \.pidFile), ("logFile", \.logFile), ("statusFile", \.statusFile),
        ]
        for (name, path) in held where loaded[keyPath: path] != config[keyPath: path] {
            log.warning("\(name) changed to \(loaded[keyPath: path]); it takes effect when appd restarts")
        }
        loaded.controlSocket = config.controlSocket
        loaded.pidFile = config.pidFile
        loaded.logFile = config.logFile
        loaded.statusFile = config.statusFile
    }
}

/// Why a reload did not happen.
enum ReloadRefusal: Error, CustomStringConvertible {
    case invalidConfig(ConfigError)
    case cannotBind(String)
    case rejected(RequestRejection)

    var description: String {
        switch self {
        case .invalidConfig(let error): return "the config has problems; the running one stays in force:\n\(error)"
        case .cannotBind(let reason): return "cannot bind a new listen address: \(reason)"
        case .rejected(let rejection): return rejection.description
        }
    }
}
