import Shared

/// The metric families appd exposes, from one snapshot. Names follow
/// Prometheus' conventions: `appd_` first, base units (bytes, seconds),
/// counters ending in `_total`. Per-process families carry `group`, `id`
/// and `pid`: during a start-first reload two processes share a worker id,
/// and the pid keeps their series apart (a respawn starting a new series is
/// what a counter like CPU seconds needs anyway). The README's "Metrics"
/// section lists them for operators.
extension MetricsSnapshot {
    var exposition: MetricsExposition {
        var exposition = MetricsExposition()
        addDaemonFamilies(to: &exposition)
        addGroupFamilies(to: &exposition)
        addProcessFamilies(to: &exposition)
        return exposition
    }

    private func addDaemonFamilies(to exposition: inout MetricsExposition) {
        exposition.add("appd_build_info", .gauge, help: "Always 1; the version of appd in a label.",
                       [MetricSample(["version": version], 1)])
        exposition.add("appd_start_time_seconds", .gauge, help: "When appd started, in Unix seconds.",
                       [MetricSample(startedAt)])
        exposition.add("appd_reloads_refused_total", .counter,
                       help: "Reloads refused before anything changed: a config with problems, or a listen address that could not be bound.",
                       [MetricSample(Double(counters.reloadsRefused))])
        exposition.add("appd_control_requests_total", .counter,
                       help: "Control requests by command and result: ok, the error code, or closed (the client left first).",
                       counters.controlRequests.sorted { ($0.key.command, $0.key.result) < ($1.key.command, $1.key.result) }
                           .map { MetricSample(["command": $0.key.command, "result": $0.key.result], Double($0.value)) })
        exposition.add("appd_log_lines_dropped_total", .counter,
                       help: "Lines of appd's own log dropped because its destination was not taking them.",
                       [MetricSample(Double(counters.logLinesDropped))])
        exposition.add("appd_log_file_lines_dropped_total", .counter,
                       help: "Lines of a group log file dropped because the file was not taking them (a stalled disk).",
                       counters.logFileLinesDropped.sorted { $0.key < $1.key }.map { MetricSample(["file": $0.key], Double($0.value)) })
    }

    private func addGroupFamilies(to exposition: inout MetricsExposition) {
        func perGroup(_ value: (Group) -> Double) -> [MetricSample] {
            groups.map { MetricSample(["group": $0.name], value($0)) }
        }
        /// One sample per group and key of `counts`, keys in order.
        func perGroup(_ label: String, _ counts: (Group) -> [String: Int]) -> [MetricSample] {
            groups.flatMap { group in
                counts(group).sorted { $0.key < $1.key }.map { MetricSample(["group": group.name, label: $0.key], Double($0.value)) }
            }
        }
        exposition.add("appd_group_desired_processes", .gauge,
                       help: "The group's count: the processes it should run (also while stopped).", perGroup { Double($0.desired) })
        exposition.add("appd_group_running_processes", .gauge,
                       help: "Live processes of the group that are not stopping, ready or not.", perGroup { Double($0.running) })
        exposition.add("appd_group_ready_processes", .gauge,
                       help: "Processes of the group that passed their readiness rule.", perGroup { Double($0.ready) })
        exposition.add("appd_group_processes", .gauge,
                       help: "The group's status rows by state: starting, running, stopping, backoff, stopped, failed, completed.",
                       perGroup("state") { group in Dictionary(uniqueKeysWithValues: group.processes.map { ($0.key.rawValue, $0.value) }) })
        exposition.add("appd_group_healthy", .gauge,
                       help: "1 when the group has its count of ready processes (the rule of appctl health and /healthz), else 0.",
                       perGroup { $0.healthy ? 1 : 0 })
        exposition.add("appd_group_restarts_total", .counter,
                       help: "Processes started again after an exit appd did not ask for, or after a failed start.",
                       perGroup { Double($0.restarts) })
        exposition.add("appd_group_exits_total", .counter,
                       help: "Process exits by reason: exit:N or signal:NAME (on its own), not-ready or watchdog (stopped by appd as failing), requested:WHY (asked for by appd).",
                       perGroup("reason") { $0.exitsByReason })
        exposition.add("appd_group_spawn_failures_total", .counter,
                       help: "Processes that could not be started at all (exec failed, command not found).",
                       perGroup { Double($0.spawnFailures) })
        exposition.add("appd_group_reloads_total", .counter,
                       help: "Reloads of the group by outcome: completed, signalled (not reloadable: SIGUSR1), aborted.",
                       perGroup("outcome") { $0.reloadsByOutcome })
        exposition.add("appd_group_last_reload_duration_seconds", .gauge,
                       help: "How long the group's last reload took, from its start to its end.",
                       groups.compactMap { group in group.lastReloadDuration.map { MetricSample(["group": group.name], $0) } })
        exposition.add("appd_group_output_lines_dropped_total", .counter,
                       help: "Lines of the group's output dropped over its outputBytesPerSecond budget.",
                       perGroup { Double($0.outputLinesDropped) })
    }

    private func addProcessFamilies(to exposition: inout MetricsExposition) {
        func labels(_ process: Process, _ extra: KeyValuePairs<String, String> = [:]) -> [MetricLabel] {
            [MetricLabel(name: "group", value: process.group), MetricLabel(name: "id", value: String(process.id)),
             MetricLabel(name: "pid", value: String(process.pid))]
                + extra.map { MetricLabel(name: $0.key, value: $0.value) }
        }
        exposition.add("appd_worker_resident_memory_bytes", .gauge, help: "Resident memory of the worker process.",
                       processes.map { MetricSample(labels($0), Double($0.residentBytes)) })
        exposition.add("appd_worker_cpu_seconds_total", .counter, help: "CPU time the worker process used (user and system).",
                       processes.map { MetricSample(labels($0), $0.cpuSeconds) })
        exposition.add("appd_worker_open_fds", .gauge, help: "Open file descriptors of the worker process.",
                       processes.map { MetricSample(labels($0), Double($0.openFDs)) })
        exposition.add("appd_worker_tcp_connections", .gauge,
                       help: "TCP connections of the worker process by state (listening sockets left out).",
                       processes.flatMap { process in
                           process.tcp.sorted { $0.key < $1.key }.map { MetricSample(labels(process, ["state": $0.key]), Double($0.value)) }
                       })
        exposition.add("appd_worker_appstats", .gauge,
                       help: "The numbers the worker last reported as APPSTATS=, by key (nested objects joined with _).",
                       processes.flatMap { process in
                           process.appStats.sorted { $0.key < $1.key }.map { MetricSample(labels(process, ["key": $0.key]), $0.value) }
                       })
    }
}
