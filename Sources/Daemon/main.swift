import Glibc
import Shared
import SupervisorCore

// First thing, before any thread exists: the handled signals are blocked so
// they reach only the signalfd, and SIGPIPE is ignored so a control client
// that hangs up cannot kill the master. Children get both reset.
do {
    try SignalMask.block(Daemon.handledSignals)
    try SignalMask.ignore([UnixSignal(number: SIGPIPE)])
} catch {
    fail("cannot set up signal handling: \(error)")
}

let options: DaemonOptions
do {
    switch try DaemonOptions.parse(Array(CommandLine.arguments.dropFirst())) {
    case .help:
        standardOutput(DaemonOptions.usage + "\n")
        exit(0)
    case .version:
        standardOutput("appd \(AppdVersion.current) (control protocol \(AppdVersion.controlProtocol))\n")
        exit(0)
    case .run(let parsed):
        options = parsed
    }
} catch {
    standardError(error.rendered)
    exit(2)
}

let currentDirectory = workingDirectory()
var config: DaemonConfig
do {
    config = try loadConfig(options, currentDirectory: currentDirectory)
} catch {
    standardError("\(error)\n")
    exit(1)
}
if options.check {
    // What would only fail later: a command that cannot be run (see commandProblems for why only here).
    let problems = ConfigLoader.commandProblems(in: config)
    guard problems.isEmpty else {
        standardError("\(ConfigError(problems: problems))\n")
        exit(1)
    }
    standardOutput(ConfigLoader.summary(config) + "\n")
    exit(0)
}
options.applyOverrides(to: &config, currentDirectory: currentDirectory)
// Detached, the daemon has no stderr to log to: refuse while the user can still read why.
if options.daemonize && config.logFile == "-" {
    standardError("appd: --daemonize needs a logFile: with logFile \"-\" the daemon's log would be lost; set logFile in the config or pass --log-file\n")
    exit(2)
}
// Like the other runtime directories: made if missing (0700), and refused
// when someone else could have planted files in it (RuntimeDirectory);
// checked here, while stderr can still say why.
if config.logFile != "-" {
    do {
        try RuntimeDirectory.open(parentOf: config.logFile).directory.close()
    } catch {
        fail("cannot use the log file's directory: \(error)")
    }
}

var startupReport: StartupReport?
if options.daemonize {
    do {
        startupReport = try Daemonizer.detach(logFile: config.logFile)
    } catch {
        fail("cannot daemonize: \(error)")
    }
}
let log: DaemonLog
do {
    log = try DaemonLog(path: config.logFile, verbose: options.verbose)
} catch {
    fail("cannot open the log file: \(error)")
}
raiseOpenFileLimit()
let resources: DaemonResources
do {
    resources = try DaemonResources(config: config)
} catch {
    log.error("cannot start: \(error)")
    if config.logFile != "-" { standardError("appd: cannot start: \(error)\n") }
    log.finish()
    exit(1)
}
let daemon = Daemon(config: config, options: options, startDirectory: currentDirectory, log: log, resources: resources)
do {
    let code = try daemon.run {
        startupReport?.succeeded()
        do {
            try SystemdNotifier.notify("READY=1\nMAINPID=\(getpid())")
        } catch {
            log.warning("cannot tell systemd we are ready: \(error)")
        }
    }
    log.finish()
    exit(code)
} catch {
    log.error("event loop failed: \(error)")
    log.finish()
    exit(1)
}
