/// What the web worker answers, request by request. The hello body names the
/// worker id and pid so a client (or a test) can see which process served it,
/// e.g. that a rolling reload replaced every process.
struct WebRoutes {
    let helloBody: String

    init(workerID: String, pid: Int32) {
        helloBody = "hello from web worker \(workerID) pid \(pid)\n"
    }

    func response(to request: HTTPRequestHead, counters: WebCounters) -> HTTPResponse {
        let readOnly = request.method == "GET" || request.method == "HEAD"
        switch request.path {
        case "/" where readOnly:
            return HTTPResponse(status: 200, reason: "OK", body: helloBody)
        case "/stats" where readOnly:
            return HTTPResponse(
                status: 200, reason: "OK", contentType: "application/json", body: counters.json + "\n")
        case "/", "/stats":
            return HTTPResponse(
                status: 405, reason: "Method Not Allowed", body: "method not allowed\n",
                extraHeaders: ["Allow: GET, HEAD"])
        default:
            return HTTPResponse(status: 404, reason: "Not Found", body: "not found\n")
        }
    }

    /// Answers that end the connection, because the rest of its input can no
    /// longer be framed.
    static let headTooLarge = HTTPResponse(
        status: 431, reason: "Request Header Fields Too Large", body: "request head larger than 16 KiB\n")
    static let malformed = HTTPResponse(status: 400, reason: "Bad Request", body: "malformed request\n")
    static let transferEncodingUnsupported = HTTPResponse(
        status: 501, reason: "Not Implemented", body: "Transfer-Encoding is not supported\n")
}
