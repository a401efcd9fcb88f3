/// The parts of a request head the web worker acts on.
struct HTTPRequestHead {
    var method: String
    /// The request target without its query string.
    var path: String
    var isHTTP10: Bool
    /// HTTP/1.1 keeps the connection by default, HTTP/1.0 closes it; a
    /// Connection header overrides either ("close" wins over "keep-alive").
    var keepAlive: Bool
    /// Body bytes that follow the head and must be skipped.
    var contentLength: Int
    /// A Transfer-Encoding body cannot be skipped without decoding it, so
    /// such requests are refused and the connection closed.
    var hasTransferEncoding: Bool
}

/// Finds and parses one request head (request line and headers up to the
/// blank line) at the start of a connection's input. Pure, so it works on
/// whatever bytes have arrived: a partial head asks for more, and the caller
/// keeps the bytes after the head (pipelined requests) for the next call.
enum HTTPRequestParser {
    /// Larger heads are refused with 431 rather than buffered without bound.
    static let maximumHeadBytes = 16 * 1024

    enum Outcome {
        /// No blank line yet; `resumeScanAt` saves rescanning bytes already seen.
        case incomplete(resumeScanAt: Int)
        case tooLarge
        case malformed
        /// The head, and how many bytes it took (including the blank line).
        case complete(HTTPRequestHead, consumed: Int)
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let colon = UInt8(ascii: ":")

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, resumeScanAt: Int) -> Outcome {
        // RFC 9112 §2.2: empty lines before a request line are ignored (some
        // clients send a CRLF after a body).
        var start = 0
        while start + 1 < bytes.count && bytes[start] == cr && bytes[start + 1] == lf { start += 2 }

        guard let headEnd = findBlankLine(bytes, from: max(start, resumeScanAt)) else {
            if bytes.count - start > maximumHeadBytes { return .tooLarge }
            return .incomplete(resumeScanAt: max(start, bytes.count - 3))
        }
        let consumed = headEnd + 4
        if consumed - start > maximumHeadBytes { return .tooLarge }

        let lines = lineRanges(bytes, from: start, to: headEnd)
        guard var head = parseRequestLine(bytes, lines[0]) else { return .malformed }
        var sawClose = false
        var sawKeepAlive = false
        var contentLength: Int?
        for line in lines.dropFirst() {
            guard let (name, value) = splitHeader(bytes, line) else { return .malformed }
            if equalsIgnoringCase(bytes, name, "connection") {
                for token in text(bytes, value).lowercased().split(separator: ",") {
                    let option = token.filter { $0 != " " && $0 != "\t" }
                    if option == "close" { sawClose = true }
                    if option == "keep-alive" { sawKeepAlive = true }
                }
            } else if equalsIgnoringCase(bytes, name, "content-length") {
                guard let length = decimal(bytes, value), contentLength == nil || contentLength == length else {
                    return .malformed  // conflicting lengths: the body's end would be a guess
                }
                contentLength = length
            } else if equalsIgnoringCase(bytes, name, "transfer-encoding") {
                head.hasTransferEncoding = true
            }
        }
        head.keepAlive = !sawClose && (!head.isHTTP10 || sawKeepAlive)
        head.contentLength = contentLength ?? 0
        return .complete(head, consumed: consumed)
    }

    /// The index of the CRLFCRLF that ends the head.
    private static func findBlankLine(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var index = start
        while index + 3 < bytes.count {
            if bytes[index] == cr && bytes[index + 1] == lf && bytes[index + 2] == cr && bytes[index + 3] == lf {
                return index
            }
            index += 1
        }
        return nil
    }

    /// The CRLF-separated lines of the head, without their line ends.
    private static func lineRanges(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var lineStart = start
        var index = start
        while index < end {
            if bytes[index] == cr && bytes[index + 1] == lf {
                ranges.append(lineStart..<index)
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        ranges.append(lineStart..<end)
        return ranges
    }

    /// `METHOD SP target SP HTTP/1.x`, with single spaces; anything else is
    /// malformed. Only HTTP/1.0 and HTTP/1.1 are spoken.
    private static func parseRequestLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> HTTPRequestHead? {
        guard let firstSpace = line.first(where: { bytes[$0] == space }),
              let secondSpace = (firstSpace + 1..<line.upperBound).first(where: { bytes[$0] == space }),
              firstSpace > line.lowerBound, secondSpace > firstSpace + 1
        else { return nil }
        let version = text(bytes, secondSpace + 1..<line.upperBound)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return nil }
        let target = firstSpace + 1..<secondSpace
        let pathEnd = target.first(where: { bytes[$0] == UInt8(ascii: "?") }) ?? target.upperBound
        return HTTPRequestHead(
            method: text(bytes, line.lowerBound..<firstSpace),
            path: text(bytes, target.lowerBound..<pathEnd),
            isHTTP10: version == "HTTP/1.0",
            keepAlive: true,
            contentLength: 0,
            hasTransferEncoding: false)
    }

    /// `name: value` with optional whitespace around the value; whitespace
    /// before the colon or a folded line (leading whitespace) is malformed.
    private static func splitHeader(
        _ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>
    ) -> (name: Range<Int>, value: Range<Int>)? {
        guard let colonIndex = line.first(where: { bytes[$0] == colon }), colonIndex > line.lowerBound else {
            return nil
        }
        let name = line.lowerBound..<colonIndex
        guard !name.contains(where: { bytes[$0] == space || bytes[$0] == tab }) else { return nil }
        var valueStart = colonIndex + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd && (bytes[valueStart] == space || bytes[valueStart] == tab) { valueStart += 1 }
        while valueEnd > valueStart && (bytes[valueEnd - 1] == space || bytes[valueEnd - 1] == tab) { valueEnd -= 1 }
        return (name, valueStart..<valueEnd)
    }

    /// ASCII case-insensitive comparison against a lowercase header name,
    /// without building a String for every header of every request.
    private static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for offset in 0..<range.count {
            var byte = bytes[range.lowerBound + offset]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 32 }
            if byte != expected[offset] { return false }
        }
        return true
    }

    /// A Content-Length: digits only, at most 15 of them (no overflow).
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 15 else { return nil }
        var value = 0
        for index in range {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func text(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
