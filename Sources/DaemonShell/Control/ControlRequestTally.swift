/// Control requests by command and result, for metrics. A request counts
/// once: when its final line is sent (`ok`, or the error's code), or, when
/// its client goes before that, as `closed` (the usual end of `status
/// --watch` and `logs --follow`). A line that is not a request for a known
/// command counts as command `invalid`, whatever it named, so a client
/// sending junk cannot make up label values.
struct ControlRequestTally {
    struct Key: Hashable {
        var command: String
        var result: String
    }

    private(set) var counts: [Key: Int] = [:]

    mutating func count(command: String, result: String) {
        counts[Key(command: command, result: result), default: 0] += 1
    }
}
