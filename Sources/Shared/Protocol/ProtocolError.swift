/// A failed request as the protocol reports it: a stable `code` for programs
/// to branch on and a `message` for people. The message names the field at
/// fault (`'count' must be a non-negative integer, got -1`) so that nobody
/// has to guess which part of a request was wrong.
public struct ProtocolError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `unknown_group: no group named 'wbe'`.
    public var description: String { "\(code.rawValue): \(message)" }

    /// A stable error code. A struct rather than an enum so that a client
    /// can still read a code added by a newer daemon.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not JSON, not an object, or a field missing or of the wrong type.
        public static let badRequest = Code(rawValue: "bad_request")
        /// `cmd` names no command this daemon knows.
        public static let unknownCommand = Code(rawValue: "unknown_command")
        /// `group` names no configured group.
        public static let unknownGroup = Code(rawValue: "unknown_group")
        /// The target is busy with an earlier request (a reload in progress).
        public static let busy = Code(rawValue: "busy")
        /// A line longer than the limit; the daemon then closes the connection.
        public static let tooLarge = Code(rawValue: "too_large")
        /// The peer's uid may not use the socket; the daemon then closes the connection.
        public static let forbidden = Code(rawValue: "forbidden")
        /// The daemon is stopping and takes no more commands.
        public static let stopping = Code(rawValue: "stopping")
        /// A rolling reload stopped early; the processes not yet replaced keep serving.
        public static let reloadAborted = Code(rawValue: "reload_aborted")
        /// A well-typed value that is out of range (negative count, unknown signal).
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// The client sent nothing for too long; the daemon then closes the connection.
        public static let timeout = Code(rawValue: "timeout")
        /// `start` of a group that is already running: nothing changed.
        public static let alreadyRunning = Code(rawValue: "already_running")
        /// Nothing to act on: `stop` of a group already stopped, `signal`
        /// of a group (or of every group) without a running process.
        public static let notRunning = Code(rawValue: "not_running")
        /// `reopenLogs`: a log file could not be opened again (the message
        /// says which and why); it is written on where it was, the others
        /// were reopened.
        public static let reopenFailed = Code(rawValue: "reopen_failed")
        /// `scale` to the count the group already has: nothing changed.
        public static let alreadyAtCount = Code(rawValue: "already_at_count")
        /// A fault inside the daemon.
        public static let `internal` = Code(rawValue: "internal")
    }
}

/// Errors the daemon raises outside request decoding, worded once here so
/// that every daemon path says the same thing.
extension ProtocolError {
    public static func unknownGroup(_ name: String) -> ProtocolError {
        ProtocolError(.unknownGroup, "no group named '\(name)'")
    }

    /// `no group named 'wbe'; did you mean 'web'?`, or with no name near
    /// enough, the groups there are (`; groups: web, queue`).
    public static func unknownGroup(_ name: String, known: [String]) -> ProtocolError {
        var message = "no group named '\(name)'"
        if let suggestion = Suggestion.closest(to: name, among: known) {
            message += "; did you mean '\(suggestion)'?"
        } else if known.isEmpty {
            message += "; no group is configured"
        } else {
            let shown = known.prefix(10).joined(separator: ", ")
            message += "; groups: \(shown)" + (known.count > 10 ? " and \(known.count - 10) more" : "")
        }
        return ProtocolError(.unknownGroup, message)
    }

    public static func lineTooLarge(limit: Int) -> ProtocolError {
        ProtocolError(.tooLarge, "request line longer than \(limit) bytes; closing the connection")
    }

    public static func forbidden(uid: UInt32) -> ProtocolError {
        ProtocolError(.forbidden, "uid \(uid) may not use this socket (only root and the daemon's own user may)")
    }

    public static func idleTimeout(seconds: Double) -> ProtocolError {
        ProtocolError(.timeout, "no request for \(HumanFormat.duration(seconds: seconds)); closing the connection")
    }

    public static let stopping = ProtocolError(.stopping, "appd is stopping and takes no more commands")
}
