import Shared

/// Every subcommand, in the order `appctl --help` lists them. Each maps onto
/// the protocol command of the same name (docs/PROTOCOL.md).
extension Subcommand {
    static let all: [Subcommand] = [
        status, describe, connections, reload, restart, stop, start, scale, signal, logs, health, metrics, ping, version,
    ]

    /// How often `status --watch` redraws when no interval is given.
    static let defaultWatchInterval = 2.0

    private static let groupArgument = (label: "<group>", help: "Only this group (or use --group).")

    static let status = Subcommand(
        name: "status",
        abstract: "Show the master and every process: state, uptime, restarts, resources, last exit.",
        discussion: """
            The master line comes first (pid, version, uptime, load), then one row per worker slot, \
            then one row per group: its state (running, starting, backing off, failed, degraded, \
            reloading, stopped, completed), how many processes are ready of how many configured, and its failed \
            exits counted by status. LAST EXIT says "stopped by reload" (restart, scale...) for exits \
            appd asked for. Durations are rounded (3s, 1m30s, 2h5m; --json has them exact). The table \
            fits 100 columns: long cells are cut with "…"; --wide shows every column (FDS, THREADS, \
            CONNS, APPSTATS) and every cell whole.
            """,
        synopsis: "status [<group>] [--wide] [--json] [--watch [<seconds>]]",
        arguments: [groupArgument],
        options: [.group, .wide, .json, .watch],
        examples: [
            ("appctl status", "Every group"),
            ("appctl status web --watch 1", "One group, redrawn every second"),
            ("appctl status --wide", "Every column: open fds, threads, connections, the workers' APPSTATS"),
            ("appctl status --json | jq '.processes[] | select(.state != \"running\")'", "Processes that are not running, for a script"),
        ],
        makeRequest: { arguments throws(UsageError) in
            let group = try arguments.group(required: false).group
            var watch: Double?
            if arguments.has(.watch) {
                watch = try arguments.value(of: .watch).map { text throws(UsageError) in
                    try ArgumentValue.seconds(text, for: OptionSpec.watch.displayName,
                                              minimum: ControlCommand.minimumWatchInterval,
                                              maximum: ControlCommand.maximumWatchInterval)
                } ?? defaultWatchInterval
            }
            return .status(group: group, watch: watch)
        }
    )

    static let describe = Subcommand(
        name: "describe",
        abstract: "Show a group's settings in force, what the config file would change, and its last reload.",
        discussion: """
            For each group (or the one named): its command, environment (values of names containing \
            KEY, SECRET, TOKEN, PASSWORD or PASSWD masked), cwd, listen sockets, readiness, reload \
            strategy and maxSurge, stop signal and timeout, watchdog; then how the group's entry in the \
            config file, as appd reads it now, differs from what runs (what `appctl reload` would \
            apply, a `scale` it would undo included); then when the last reload ended and how.
            """,
        synopsis: "describe [<group>] [--json]",
        arguments: [groupArgument],
        options: [.group, .json],
        examples: [
            ("appctl describe web", "What runs, and what a reload of web would change"),
            ("appctl describe --json | jq '.groups[] | select(.differences != [])'", "Groups whose file entry changed, for a script"),
        ],
        makeRequest: { arguments throws(UsageError) in .describe(group: try arguments.group(required: false).group) }
    )

    static let connections = Subcommand(
        name: "connections",
        abstract: "List the TCP connections of the workers: addresses, state, queues.",
        discussion: "",
        synopsis: "connections [<group>] [--json]",
        arguments: [groupArgument],
        options: [.group, .json],
        examples: [("appctl connections web", "Who is connected to the web workers")],
        makeRequest: { arguments throws(UsageError) in .connections(group: try arguments.group(required: false).group) }
    )

    static let reload = Subcommand(
        name: "reload",
        abstract: "Replace every process (or one group's) with a fresh one, one at a time, without refusing a connection.",
        discussion: """
            appd re-reads its config first; a bad config is refused and nothing changes. Then, one \
            worker id at a time (maxSurge at a time), it starts the successor beside the running \
            process, waits until the successor is ready, and only then stops the old process \
            (stopSignal, SIGKILL after stopTimeout). A successor that exits or is not ready in time \
            is stopped and aborts its group's reload: the old processes keep serving untouched, the \
            group's settings roll back, status shows the group degraded, and appctl exits 1. Groups \
            with reloadStrategy "stopFirst" stop the old process first (for programs that bind their \
            own port); a slot that was not running is started at once. Groups with "reloadable": false \
            get SIGUSR1 instead. Without a group, the same as `kill -USR1 <appd pid>`.
            """,
        synopsis: "reload [<group>] [--json]",
        arguments: [groupArgument],
        options: [.group, .json],
        examples: [
            ("appctl reload", "Every group, after a deploy or a config change"),
            ("appctl reload web", "Only the web group"),
        ],
        makeRequest: { arguments throws(UsageError) in .reload(group: try arguments.group(required: false).group) }
    )

    static let restart = Subcommand(
        name: "restart",
        abstract: "Stop and start the processes of every group (or one) at once; not rolling.",
        discussion: "Use reload to replace processes without downtime.",
        synopsis: "restart [<group>] [--json]",
        arguments: [groupArgument],
        options: [.group, .json],
        examples: [("appctl restart queue", "Start the queue workers afresh")],
        makeRequest: { arguments throws(UsageError) in .restart(group: try arguments.group(required: false).group) }
    )

    static let stop = Subcommand(
        name: "stop",
        abstract: "Stop one group (it stays stopped until started), or without a group, stop appd itself.",
        discussion: """
            Returns once every process of the group has exited (after its stopTimeout, by SIGKILL). \
            A group that is already stopped is left alone: appctl says so and exits 1.
            """,
        synopsis: "stop [<group>] [--json]",
        arguments: [(label: "<group>", help: "The group to stop (or use --group). Without it, appd stops.")],
        options: [.group, .json],
        examples: [
            ("appctl stop queue", "Park the queue workers"),
            ("appctl stop", "Stop every process and the daemon"),
        ],
        makeRequest: { arguments throws(UsageError) in .stop(group: try arguments.group(required: false).group) }
    )

    static let start = Subcommand(
        name: "start",
        abstract: "Start a stopped group, or retry its failed and completed worker ids.",
        discussion: """
            A worker id that failed (restart "never", or more than maxRestarts restarts within \
            restartWindow) or completed (a one-shot job) gets a new process. A group that is already \
            running with nothing finished is left alone: appctl says so and exits 1 (supervisorctl's \
            "already started"); `appctl restart <group>` starts its processes afresh.
            """,
        synopsis: "start <group> [--json]",
        arguments: [(label: "<group>", help: "The group to start (or use --group).")],
        options: [.group, .json],
        examples: [("appctl start queue", "Bring the queue workers back")],
        makeRequest: { arguments throws(UsageError) in
            guard let group = try arguments.group(required: true).group else { throw UsageError("missing <group>") }
            return .start(group: group)
        }
    )

    static let scale = Subcommand(
        name: "scale",
        abstract: "Change how many processes a group runs, without a reload.",
        discussion: """
            New worker ids start at the current count; scaling down stops the highest ids. A count the \
            group already has changes nothing: appctl says so and exits 1.
            """,
        synopsis: "scale <group> <count> [--json]",
        arguments: [
            (label: "<group>", help: "The group to scale (or use --group)."),
            (label: "<count>", help: "The new number of processes, from 0 to \(GroupConfig.maximumCount)."),
        ],
        options: [.group, .json],
        examples: [
            ("appctl scale web 8", "Run eight web workers"),
            ("appctl scale --group queue 0", "Park the queue without stopping the group"),
        ],
        makeRequest: { arguments throws(UsageError) in
            let (group, trailing) = try arguments.group(required: true, trailing: ["<count>"])
            guard let group else { throw UsageError("missing <group>") }
            return .scale(group: group, count: try ArgumentValue.count(trailing[0], for: "<count>", maximum: GroupConfig.maximumCount))
        }
    )

    static let signal = Subcommand(
        name: "signal",
        abstract: "Send a signal to every process of a group (or of every group).",
        discussion: """
            The master is not signalled; use kill(1) on its pid for that. Signal 0 sends nothing but \
            checks that the processes exist (kill -0): appctl says how many are alive. With no running \
            process to signal, appctl says so and exits 1. A worker dies of a signal it does not handle \
            (HUP, USR2, TERM by default): the demo's workers handle USR1 and carry on, and stop on TERM \
            and INT.
            """,
        synopsis: "signal [<group>] <signal> [--json]",
        arguments: [
            groupArgument,
            (label: "<signal>", help: "A name (HUP, SIGHUP, usr1), a number (1), or 0 to check the processes exist."),
        ],
        options: [.group, .json],
        examples: [
            ("appctl signal web 0", "Check that the web workers are alive (exit 1 when none runs)"),
            ("appctl signal queue USR1", "Send SIGUSR1 to the queue workers, as a reload does to a non-reloadable group"),
        ],
        makeRequest: { arguments throws(UsageError) in
            let (group, trailing) = try arguments.group(required: false, trailing: ["<signal>"])
            return .signal(group: group, try ArgumentValue.signal(trailing[0]))
        }
    )

    static let logs = Subcommand(
        name: "logs",
        abstract: "Print recent lines of the groups' histories; with --follow, keep printing new ones.",
        discussion: """
            Each group keeps its own history in appd's memory (history: {lines, bytes} in the config; \
            2000 lines or 1 MiB by default): what its workers printed on stdout and stderr, and appd's \
            own lines about them (started, ready, exited with status, restarts after a backoff, killed \
            by the watchdog), in the order they happened, so a noisy group never pushes out another's \
            traceback. Each line shows when it was read (UTC), the worker (group#id[pid]) and the \
            stream: 2026-12-01T12:28:17.514Z web#0[4711] stderr: Traceback... A group whose log has \
            format "raw" writes its output straight into that file, which appd never reads: its \
            history has appd's lines alone (appctl describe names the file). With --reopen, appd \
            instead opens every log file again by its path (its own and the groups'), for an external \
            logrotate that moved them away, and says how many.
            """,
        synopsis: "logs [<group>] [--id <n>] [--stream <stream>] [--lines <n>] [--follow] [--json] | --reopen",
        arguments: [groupArgument],
        options: [.group, .workerID, .stream, .lines, .follow, .jsonLines, .reopen],
        examples: [
            ("appctl logs web -f", "The last 100 lines of the web workers, then new ones"),
            ("appctl logs crasher --stream stderr -n 20", "The last 20 lines the crasher workers wrote to stderr"),
            ("appctl logs web --id 0 --stream appd", "What appd said about web#0: starts, exits, backoffs"),
            ("appctl logs --reopen", "In logrotate's postrotate, after it renamed the files"),
        ],
        makeRequest: { arguments throws(UsageError) in
            if arguments.has(.reopen) {
                let others = [OptionSpec.group, .workerID, .stream, .lines, .follow].filter { arguments.has($0) }.map(\.displayName)
                if let other = (arguments.positionals + others).first {
                    throw UsageError("--reopen reopens every log file: it takes no group and no other option, got '\(other)'")
                }
                return .reopenLogs
            }
            let group = try arguments.group(required: false).group
            let id = try arguments.value(of: .workerID).map { text throws(UsageError) in
                try ArgumentValue.count(text, for: OptionSpec.workerID.displayName, maximum: GroupConfig.maximumCount - 1)
            }
            if id != nil, group == nil { throw UsageError("--id needs a group: a worker id is one of a group's") }
            let stream = try arguments.value(of: .stream).map { text throws(UsageError) in
                guard let stream = LogEntry.Stream(rawValue: text) else {
                    throw UsageError("invalid value '\(text)' for '\(OptionSpec.stream.displayName)': expected "
                        + LogEntry.Stream.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return stream
            }
            let lines = try arguments.value(of: .lines).map { text throws(UsageError) in
                try ArgumentValue.count(text, for: OptionSpec.lines.displayName, maximum: ControlCommand.maximumLogLines)
            } ?? ControlCommand.defaultLogLines
            return .logs(LogFilter(group: group, id: id, stream: stream), follow: arguments.has(.follow), lines: lines)
        }
    )

    static let health = Subcommand(
        name: "health",
        abstract: "Exit 0 when every group has its count of ready processes, 1 otherwise, saying why.",
        discussion: """
            The question a container's exec probe or a monitoring check asks. A group is healthy when \
            all of its count processes are ready; one that is starting, backing off, crash-looping or \
            stopped (appctl stop) is not. A reload in progress is healthy as long as the count stays \
            ready. Prints "healthy: web 4/4, queue 1/1, 0 backing off", or "unhealthy: ..." and one \
            line per group that is short of its count. Exit 3 when no daemon answers.
            """,
        synopsis: "health [--json]",
        arguments: [],
        options: [.json],
        examples: [("appctl health || echo 'not serving'", "In a Kubernetes exec probe or a cron check")],
        makeRequest: { arguments throws(UsageError) in
            try arguments.noPositionals()
            return .health
        }
    )

    static let metrics = Subcommand(
        name: "metrics",
        abstract: "Print every group's and process's figures in the Prometheus text format.",
        discussion: """
            The same text appd serves at /metrics when the config has metrics: {listen: \
            "tcp://127.0.0.1:9469"}: processes by group and state, desired, running and ready counts, \
            restarts, exits by reason and reloads by outcome (counters that only go up), each worker's \
            memory, CPU seconds, open fds, TCP connections and APPSTATS numbers, control requests, \
            dropped log lines. Printed exactly as appd wrote it, for programs (promtool, grep, a \
            node_exporter textfile).
            """,
        synopsis: "metrics [--json]",
        arguments: [],
        options: [.json],
        examples: [
            ("appctl metrics | grep appd_group_restarts_total", "How often each group's processes were restarted"),
            ("appctl metrics | promtool check metrics", "Check the exposition with Prometheus' own tool"),
        ],
        makeRequest: { arguments throws(UsageError) in
            try arguments.noPositionals()
            return .metrics
        }
    )

    static let ping = Subcommand(
        name: "ping",
        abstract: "Check that appd answers on its socket.",
        discussion: "",
        synopsis: "ping [--json]",
        arguments: [],
        options: [.json],
        examples: [("appctl ping && echo up", "In a health check")],
        makeRequest: { arguments throws(UsageError) in
            try arguments.noPositionals()
            return .ping
        }
    )

    static let version = Subcommand(
        name: "version",
        abstract: "Show the versions of appctl, appd and the control protocol.",
        discussion: "",
        synopsis: "version [--json]",
        arguments: [],
        options: [.json],
        examples: [("appctl version", "Check that appctl and appd speak the same protocol")],
        makeRequest: { arguments throws(UsageError) in
            try arguments.noPositionals()
            return .version
        }
    )
}

/// Options only one subcommand takes.
extension OptionSpec {
    static let watch = OptionSpec(
        long: "watch", short: "w", value: .optional(placeholder: "seconds"),
        help: "Redraw every <seconds> (default: 2) until Ctrl-C. With --json, print one document per line.")
    static let wide = OptionSpec(
        long: "wide", short: nil, value: .none,
        help: "Show every column (FDS, THREADS, CONNS, APPSTATS) and every cell whole, however wide.")
    static let follow = OptionSpec(long: "follow", short: "f", value: .none, help: "Keep printing new lines until Ctrl-C.")
    static let lines = OptionSpec(
        long: "lines", short: "n", value: .required(placeholder: "n"),
        help: "How many recent lines to print first (default: \(ControlCommand.defaultLogLines)).")
    static let workerID = OptionSpec(
        long: "id", short: nil, value: .required(placeholder: "n"), help: "Only the worker with this id (needs a group).")
    static let stream = OptionSpec(
        long: "stream", short: nil, value: .required(placeholder: "stream"),
        help: "Only stdout, stderr, or appd (appd's own lines about the workers).")
    static let reopen = OptionSpec(
        long: "reopen", short: nil, value: .none,
        help: "Open every log file again by its path (for logrotate); takes no other option.")
    /// `--json` for a stream: one object per line rather than one document.
    static let jsonLines = OptionSpec(long: "json", short: nil, value: .none, help: "Print one JSON object per line (JSON Lines).")
}
