/// An HTTP/1.1 reply as the metrics listener sends it: always with its
/// length and `Connection: close` (one request per connection, then the
/// server closes). Head and body stay apart so that one exposition's bytes
/// are shared, not copied, by every connection that sends them.
struct HTTPReply: Equatable {
    var status: Int
    var contentType = "text/plain; charset=utf-8"
    /// Extra header lines, e.g. `Allow: GET` with a 405.
    var headers: [String] = []
    var body: [UInt8]

    /// A short text reply: one line for people and probes.
    static func text(_ status: Int, _ text: String, headers: [String] = []) -> HTTPReply {
        HTTPReply(status: status, headers: headers, body: Array((text + "\n").utf8))
    }

    var head: [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n"
        head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        return Array((head + "\r\n").utf8)
    }

    private static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}
