/// A response before serialisation. The framing (Connection header, whether
/// the body is sent) depends on the request, so it is chosen at the end by
/// `serialized`.
struct HTTPResponse {
    var status: Int
    var reason: String
    var contentType = "text/plain; charset=utf-8"
    var body: String
    var extraHeaders: [String] = []

    /// The wire bytes. HEAD gets the GET headers (Content-Length included)
    /// without the body. An HTTP/1.0 client is told explicitly that the
    /// connection stays open; an HTTP/1.1 client is told when it closes.
    func serialized(for request: HTTPRequestHead?, keepAlive: Bool) -> [UInt8] {
        let bodyBytes = Array(body.utf8)
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(bodyBytes.count)\r\n"
        for header in extraHeaders { head += header + "\r\n" }
        if !keepAlive {
            head += "Connection: close\r\n"
        } else if request?.isHTTP10 == true {
            head += "Connection: keep-alive\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if request?.method != "HEAD" { bytes += bodyBytes }
        return bytes
    }
}
