import Shared

/// Whether every group serves as configured: one rule for `appctl health`
/// (a container's exec probe), the metrics listener's `/healthz` and what
/// the service manager is told (`READY=1`, `STATUS=`).
public struct HealthReport: Equatable, Sendable {
    /// One line per group that does not serve as configured, saying why.
    public var problems: [String]
    /// `web 4/4, queue 1/1, 0 backing off`: ready processes against each
    /// group's count, for STATUS= and the probe's output.
    public var summary: String

    /// Every group has its count of ready processes.
    public var isHealthy: Bool { problems.isEmpty }
}

extension WorkerGroup {
    /// Why the group is not healthy, in one line; nil when it is.
    ///
    /// A group is healthy when each of its `count` worker ids has a ready
    /// process or ran its one-shot process to completion; one stopped by
    /// the operator is not (it serves nothing, and a probe should say so).
    /// A group with count 0 is healthy. A reload in progress is not a
    /// problem as long as the count stays ready (start-first keeps it so).
    public var healthProblem: String? {
        let count = config.count
        let ready = readyCount + completedCount
        if !wantsRunning { return "\(name) is stopped (appctl start \(name))" }
        guard ready < count else { return nil }
        var parts: [String] = []
        if !waitingFor.isEmpty { parts.append("waiting for \(waitingFor.joined(separator: ", "))") }
        if startingCount > 0 { parts.append("\(startingCount) starting") }
        if backingOffCount > 0 { parts.append("\(backingOffCount) backing off") }
        if failedCount > 0 { parts.append("\(failedCount) failed") }
        let detail = ([parts.joined(separator: ", ")].filter { !$0.isEmpty } + problems).joined(separator: "; ")
        return "\(name): \(ready)/\(count) ready" + (detail.isEmpty ? "" : " (\(detail))")
    }
}

extension Supervisor {
    /// Every group's health (`WorkerGroup.healthProblem`); groups being
    /// removed no longer count.
    public var health: HealthReport {
        let serving = groups.filter { !$0.retiring }
        let problems = serving.compactMap(\.healthProblem)
        let backingOff = serving.reduce(0) { $0 + $1.backingOffCount }
        let summary = (serving.map { "\($0.name) \($0.readyCount + $0.completedCount)/\($0.config.count)" } + ["\(backingOff) backing off"])
            .joined(separator: ", ")
        return HealthReport(problems: problems, summary: summary)
    }
}
