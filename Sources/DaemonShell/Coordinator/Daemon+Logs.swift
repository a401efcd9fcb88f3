import Shared
import SupervisorCore

/// `logs` and `reopenLogs`: the groups' histories streamed to clients at
/// the pace they read (`LogStream`), new lines to followers, and every log
/// file opened again for an external logrotate.
extension Daemon {
    /// History lines read and sent per slice (even of 16 KiB lines, a slice
    /// fits in a client's reply buffer), and slices per loop turn over every
    /// stream: a request for 100 000 lines costs the loop a few milliseconds
    /// a turn, not a second at once.
    static let logLinesPerSlice = 128
    static let logSlicesPerTurn = 16

    func startLogs(_ filter: LogFilter, follow: Bool, lines: Int, request id: Int, from client: Int32) {
        let cursor = workers.logs.cursor(beforeLast: lines, matching: filter)
        streams.logs.append(LogStream(client: client, request: id, filter: filter, follow: follow, cursor: cursor,
                                      end: workers.logs.newestSequence))
        continueLogs(of: client)
    }

    /// Whether a stream is behind and its client is taking replies: the
    /// loop then does not sleep (`continueLogs`).
    var hasLogsToSend: Bool { streams.logs.contains { !$0.live && !control.isBlocked($0.client) } }

    /// Sends the next slices of the streams that are behind: those of one
    /// client (it has just drained its replies), or of every client, within
    /// the turn's share. A stream whose client is blocked waits for `onDrained`.
    func continueLogs(of client: Int32? = nil) {
        var slices = 0
        var index = 0
        while index < streams.logs.count, slices < Self.logSlicesPerTurn {
            let stream = streams.logs[index]
            guard !stream.live, client == nil || stream.client == client, !control.isBlocked(stream.client) else {
                index += 1
                continue
            }
            let slice = workers.logs.lines(after: stream.cursor, through: stream.end, matching: stream.filter, limit: Self.logLinesPerSlice)
            let (replies, finished) = streams.logs[index].take(slice, asked: Self.logLinesPerSlice)
            slices += 1
            if finished { streams.logs.remove(at: index) }
            // Sent after the stream is settled: a send that drops the client forgets its streams.
            control.send(replies, to: stream.client)
        }
    }

    /// A new line, to every follower that has caught up with the history
    /// (one still behind reads it from there, in order).
    func deliverToFollowers(_ entry: LogEntry) {
        for stream in streams.logs where stream.live && stream.filter.accepts(entry) {
            control.send(.item(id: stream.request, .log(entry)), to: stream.client)
        }
    }

    /// Whether someone follows the group's new lines (building an entry
    /// for each line costs a copy: only then is it done).
    func isFollowed(_ group: String) -> Bool {
        streams.logs.contains { $0.live && ($0.filter.group == nil || $0.filter.group == group) }
    }

    /// Every log file opened again by its path; the reply says how many,
    /// or which could not be (they are written on where they were).
    func reopenLogs(request id: Int, from client: Int32) {
        let (reopened, failures) = workers.logs.reopenAll()
        if failures.isEmpty {
            log.info("reopened \(counted(reopened, "log file", "log files")), as asked")
            control.send(.done(id: id, .reopenedLogs(files: reopened)), to: client)
        } else {
            let message = "reopened \(counted(reopened, "log file", "log files")); could not reopen: " + failures.joined(separator: "; ")
            log.error(message)
            control.send(.error(id: id, ProtocolError(.reopenFailed, message)), to: client)
        }
    }
}
