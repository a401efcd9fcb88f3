import DaemonShell
import Glibc
import Shared

// `appd` is its command line; the daemon itself is DaemonShell's.

// First thing, before any thread exists (see `DaemonLaunch.prepareSignals`).
do {
    try DaemonLaunch.prepareSignals()
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
// Settings this appd could never carry out (another user, while not root)
// refuse the start as they refuse a reload.
let privilegeProblems = ConfigLoader.privilegeProblems(in: config)
if options.check {
    // What would only fail later: a command that cannot be run (see commandProblems for why only here).
    let problems = privilegeProblems + ConfigLoader.commandProblems(in: config)
    guard problems.isEmpty else {
        standardError("\(ConfigError(problems: problems))\n")
        exit(1)
    }
    standardOutput(ConfigLoader.summary(config) + "\n")
    exit(0)
}
guard privilegeProblems.isEmpty else {
    standardError("\(ConfigError(problems: privilegeProblems))\n")
    exit(1)
}
options.applyOverrides(to: &config, currentDirectory: currentDirectory)
// Detached, the daemon has no stderr to log to: refuse while the user can still read why.
if options.daemonize && config.daemonLog.isStandardError {
    standardError("appd: --daemonize needs a logFile: with logFile \"-\" the daemon's log would be lost; set logFile in the config or pass --log-file\n")
    exit(2)
}
DaemonLaunch.run(config: config, daemonize: options.daemonize, verbose: options.verbose) { loaded in
    options.applyOverrides(to: &loaded, currentDirectory: currentDirectory)
}
