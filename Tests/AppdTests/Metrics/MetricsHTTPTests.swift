import Testing
@testable import DaemonShell

/// What the metrics listener makes of a request head, and the replies it
/// writes (HTTPRequestHead, HTTPReply).
@Suite struct MetricsHTTPTests {
    static func parse(_ text: String) -> HTTPRequestHead.Parse { HTTPRequestHead.parse(Array(text.utf8)) }

    @Test func aGetIsCompleteAtItsBlankLine() {
        #expect(Self.parse("GET /metrics HTTP/1.1\r\nHost: x\r\n") == .incomplete)
        #expect(Self.parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == .complete(.init(method: "GET", path: "/metrics")))
        #expect(Self.parse("GET /healthz HTTP/1.0\r\n\r\n") == .complete(.init(method: "GET", path: "/healthz")))
        #expect(Self.parse("GET /metrics?name[]=x HTTP/1.1\n\n") == .complete(.init(method: "GET", path: "/metrics")))
        #expect(Self.parse("HEAD /metrics HTTP/1.1\r\n\r\n") == .complete(.init(method: "HEAD", path: "/metrics")))
    }

    @Test func anythingButAnHTTP1RequestLineIsMalformed() {
        for head in ["GET /metrics HTTP/2.0\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "\r\n\r\n",
                     "GET  /metrics HTTP/1.1\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"] {
            guard case .malformed = Self.parse(head) else {
                Issue.record("\(head.debugDescription) was not refused: \(Self.parse(head))")
                continue
            }
        }
        #expect(HTTPRequestHead.parse([0x47, 0x45, 0x54, 0x20, 0x2f, 0xff, 0x20] + Array(" HTTP/1.1\r\n\r\n".utf8))
                == .malformed("the request line is not UTF-8"))
    }

    @Test func aReplySaysItsLengthAndThatTheConnectionCloses() {
        let reply = HTTPReply.text(405, "only GET is served here", headers: ["Allow: GET"])
        #expect(String(decoding: reply.head, as: UTF8.self) == "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: 24\r\nConnection: close\r\nAllow: GET\r\n\r\n")
        #expect(reply.body == Array("only GET is served here\n".utf8))
    }
}
