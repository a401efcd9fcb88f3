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

extension Supervisor {
    /// A group is healthy when each of its `count` worker ids has a ready
    /// process or ran its one-shot process to completion; one stopped by
    /// the operator is not (it serves nothing, and a probe should say so).
    /// A group with count 0 is healthy. A reload in progress is not a
    /// problem as long as the count stays ready (start-first keeps it so).
    public var health: HealthReport {
        let serving = groups.filter { !$0.retiring }
        var problems: [String] = []
        for group in serving {
            let count = group.config.count
            let ready = group.readyCount + group.completedCount
            if !group.wantsRunning {
                problems.append("\(group.name) is stopped (appctl start \(group.name))")
            } else if ready < count {
                var parts: [String] = []
                if !group.waitingFor.isEmpty { parts.append("waiting for \(group.waitingFor.joined(separator: ", "))") }
                if group.startingCount > 0 { parts.append("\(group.startingCount) starting") }
                if group.backingOffCount > 0 { parts.append("\(group.backingOffCount) backing off") }
                if group.failedCount > 0 { parts.append("\(group.failedCount) failed") }
                let detail = ([parts.joined(separator: ", ")].filter { !$0.isEmpty } + group.problems).joined(separator: "; ")
                problems.append("\(group.name): \(ready)/\(count) ready" + (detail.isEmpty ? "" : " (\(detail))"))
            }
        }
        let backingOff = serving.reduce(0) { $0 + $1.backingOffCount }
        let summary = (serving.map { "\($0.name) \($0.readyCount + $0.completedCount)/\($0.config.count)" } + ["\(backingOff) backing off"])
            .joined(separator: ", ")
        return HealthReport(problems: problems, summary: summary)
    }
}
