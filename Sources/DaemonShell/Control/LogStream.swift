import Shared

/// One `logs` request as it is answered: the history lines it asked for,
/// sent a slice at a time as the client takes them, then (with `follow`)
/// new lines as they come.
///
/// Slices, because a request may ask for 100 000 lines of every group: sent
/// at once they would hold up the loop while they are encoded and overflow
/// the client's reply buffer (4 MiB), and the client would be dropped. A
/// stream that is behind reads on from the history after `cursor`, so new
/// lines meanwhile wait there, in order, rather than in a queue of their own.
struct LogStream: Equatable {
    let client: Int32
    let request: Int
    let filter: LogFilter
    let follow: Bool
    /// The last line sent (a `GroupLogs` sequence): the next slice starts after it.
    var cursor: UInt64
    /// Without `follow`: the newest line when the request came; the answer ends there.
    let end: UInt64?
    /// Caught up with the history (only with `follow`): new lines are sent as they come.
    var live = false
    /// Lines sent, for the result.
    var sent = 0

    init(client: Int32, request: Int, filter: LogFilter, follow: Bool, cursor: UInt64, end: UInt64) {
        self.client = client
        self.request = request
        self.filter = filter
        self.follow = follow
        self.cursor = cursor
        self.end = follow ? nil : end
    }

    /// What a slice read from the history means for the stream: the items
    /// to send, and the last line when the answer is complete. Fewer lines
    /// than asked means the history has no more: a follower goes live, a
    /// plain request is done.
    mutating func take(_ slice: [(sequence: UInt64, entry: LogEntry)], asked: Int) -> (replies: [ControlReply], finished: Bool) {
        var replies = slice.map { ControlReply.item(id: request, .log($0.entry)) }
        if let last = slice.last { cursor = last.sequence }
        sent += slice.count
        guard slice.count < asked else { return (replies, false) }
        if follow {
            live = true
            return (replies, false)
        }
        replies.append(.done(id: request, .logs(lines: sent)))
        return (replies, true)
    }
}
