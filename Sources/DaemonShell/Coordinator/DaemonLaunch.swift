import Glibc
import Shared
import SupervisorCore

/// What `appd` does once its command line and config are read: detach if
/// asked, open the log, acquire its resources (`DaemonResources`), run the
/// `Daemon` and exit with its code. The executable is the command line; this
/// is everything after it.
public enum DaemonLaunch {
    /// First thing, before any thread exists: the handled signals are
    /// blocked so they reach only the signalfd, and SIGPIPE is ignored so a
    /// control client that hangs up cannot kill the master. Children get
    /// both reset.
    public static func prepareSignals() throws {
        try SignalMask.block(Daemon.handledSignals)
        try SignalMask.ignore([UnixSignal(number: SIGPIPE)])
    }

    /// Runs the daemon for `config` and exits. `applyOverrides` is applied
    /// again to every config a reload reads (the command line wins).
    public static func run(
        config: DaemonConfig, daemonize: Bool, verbose: Bool, applyOverrides: @escaping (inout DaemonConfig) -> Void
    ) -> Never {
        // Like the other runtime directories: made if missing (0700), and
        // refused when someone else could have planted files in it
        // (RuntimeDirectory); checked here, while stderr can still say why.
        for (file, what) in logDirectories(config) {
            do {
                try RuntimeDirectory.open(parentOf: file).directory.close()
            } catch {
                fail("cannot use the directory of \(what): \(error)")
            }
        }
        var startupReport: StartupReport?
        if daemonize {
            do {
                startupReport = try Daemonizer.detach(logFile: config.daemonLog.path)
            } catch {
                fail("cannot daemonize: \(error)")
            }
        }
        // The logs' writer threads start only now: a thread does not survive the fork of --daemonize.
        let log: DaemonLog
        do {
            log = try DaemonLog(config: config.daemonLog, verbose: verbose, carriesStandardStreams: daemonize)
        } catch {
            fail("cannot open the log file: \(error)")
        }
        let logs = GroupLogs(daemonLog: log)
        raiseOpenFileLimit()
        do {
            do {
                logs.apply(config, opened: try logs.openFiles(for: config))
            } catch {
                throw StartupError(error.description)
            }
            let resources = try DaemonResources(config: config)
            let daemon = try Daemon(config: config, logs: logs, resources: resources, applyOverrides: applyOverrides)
            // systemd hears READY=1 once every group is ready (ServiceManagerLink).
            let code = try daemon.run { startupReport?.succeeded() }
            logs.finish(timeout: 2)
            log.finish()
            exit(code)
        } catch let error as StartupError {
            log.error("cannot start: \(error)")
            if !config.daemonLog.isStandardError { standardError("appd: cannot start: \(error)\n") }
            logs.finish(timeout: 2)
            log.finish()
            exit(1)
        } catch {
            log.error("event loop failed: \(error)")
            logs.finish(timeout: 2)
            log.finish()
            exit(1)
        }
    }

    /// Every log file's path, with what it is for the error message: the
    /// daemon's own, and the groups'.
    private static func logDirectories(_ config: DaemonConfig) -> [(file: String, what: String)] {
        let own = config.daemonLog.isStandardError ? [] : [(config.daemonLog.path, "the log file")]
        return own + config.groups.flatMap { group in group.logFiles.map { ($0.path, "the log file of group \(group.name)") } }
    }

    /// Two pipes per child plus sockets: a thousand workers need more than
    /// the usual soft limit of 1024 descriptors, so take the hard limit.
    /// Workers get the original back (`Spawner.childOpenFileLimit`): what
    /// they run may rely on the usual limit (select(2) breaks on fds above 1023).
    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let original = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(resource, &limit) == 0 { Spawner.childOpenFileLimit = UInt64(original) }
    }

    private static func fail(_ message: String) -> Never {
        standardError("appd: \(message)\n")
        exit(1)
    }

    private static func standardError(_ text: String) { _ = try? FileIO.write(STDERR_FILENO, Array(text.utf8)) }
}
