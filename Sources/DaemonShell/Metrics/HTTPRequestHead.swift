/// The head of an HTTP/1.0 or 1.1 request, as far as the metrics listener
/// needs it: the method and the path (without a query). Everything else a
/// scraper or a probe sends (headers) is read past and ignored. Pure, so
/// every malformed request is unit-tested without a socket.
struct HTTPRequestHead: Equatable {
    var method: String
    /// The target without its query: `/metrics?x=1` → `/metrics`.
    var path: String

    enum Parse: Equatable {
        /// No blank line yet: read more (within the head limit).
        case incomplete
        case complete(HTTPRequestHead)
        /// Not an HTTP/1.x request line; the reason goes in the 400's body.
        case malformed(String)
    }

    /// Reads the head from the start of `bytes`: complete once a blank line
    /// (`\r\n\r\n`, or `\n\n` from a hand-typed request) ends it.
    static func parse(_ bytes: [UInt8]) -> Parse {
        guard let end = headEnd(bytes) else { return .incomplete }
        guard let lineEnd = bytes[..<end].firstIndex(of: UInt8(ascii: "\n")) else { return .malformed("no request line") }
        var line = bytes[..<lineEnd]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard let text = String(validating: line, as: UTF8.self) else { return .malformed("the request line is not UTF-8") }
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
            return .malformed("expected 'METHOD /path HTTP/1.1', got '\(text.prefix(80))'")
        }
        guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return .malformed("only HTTP/1.0 and HTTP/1.1 are spoken here, got '\(parts[2].prefix(20))'")
        }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return .complete(HTTPRequestHead(method: String(parts[0]), path: String(path)))
    }

    /// The index just past the blank line ending the head, if it is in.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        var previous: UInt8 = 0
        var beforePrevious: UInt8 = 0
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "\n") {
                if previous == UInt8(ascii: "\n") { return index + 1 }
                if previous == UInt8(ascii: "\r"), beforePrevious == UInt8(ascii: "\n") { return index + 1 }
            }
            beforePrevious = previous
            previous = byte
        }
        return nil
    }
}
