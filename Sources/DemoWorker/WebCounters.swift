/// The web worker's counters, after Workerman's status columns: requests
/// answered, connections open right now, and sends that failed (the peer
/// vanished with a response still unsent). Reported as APPSTATS and served
/// at /stats in the same JSON.
struct WebCounters: AppStatsCounters {
    var requests = 0
    var connections = 0
    var sendFailures = 0

    var json: String {
        "{\"requests\":\(requests),\"connections\":\(connections),\"sendFailures\":\(sendFailures)}"
    }
}
