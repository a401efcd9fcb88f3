import Shared
import SupervisorCore

/// The metrics exposition and the health rule, for the `metrics` command
/// and the HTTP listener: what they ask of the other parts passes through
/// here.
extension Daemon {
    func connectMetrics() {
        metrics.counters = { [unowned self] in
            MetricsSnapshot.DaemonCounters(controlRequests: control.requests.counts, logLinesDropped: log.droppedLines,
                                           logFileLinesDropped: workers.logs.fileLinesDropped, reloadsRefused: reloadsRefused)
        }
        metrics.outputLinesDropped = { [unowned self] in workers.outputs.droppedLines }
        metricsServer?.onMetrics = { [unowned self] deliver in metrics.expose(supervisor: supervisor, then: deliver) }
        metricsServer?.onHealth = { [unowned self] in supervisor.health.problems }
    }

    /// `metrics`: the exposition in pieces of whole lines, once sampled.
    func sendMetrics(request id: Int, to client: Int32) {
        metrics.expose(supervisor: supervisor) { [unowned self] exposition in
            control.send(MetricsText.pieces(of: exposition).map { .item(id: id, .metrics($0)) }
                + [.done(id: id, .metrics(bytes: exposition.count))], to: client)
        }
    }
}
