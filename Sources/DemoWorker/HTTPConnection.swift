import Glibc

/// One accepted client connection: bytes received but not yet answered, and
/// response bytes not yet sent. Requests are answered in order as soon as
/// their head is complete, so pipelined requests need nothing special.
final class HTTPConnection {
    /// Beyond this much unsent output the connection stops reading, so a
    /// client that pipelines without reading cannot grow memory without bound.
    static let maximumPendingOutput = 64 * 1024

    let fd: Int32
    private var input: [UInt8] = []
    private var resumeScanAt = 0
    private var bodyBytesToSkip = 0
    private var output: [UInt8] = []
    private var outputSent = 0
    /// No more requests will be read: set by "Connection: close", an error
    /// answer, the peer's end of input, or shutdown. The connection closes
    /// once its output is flushed.
    private(set) var closesAfterFlush = false

    /// Set by `close`; the server then forgets the connection.
    private(set) var isClosed = false
    /// Requests answered so far; a connection with none is on its way to
    /// its first one.
    private(set) var answered = 0
    /// Shutting down: the next request is the last one read.
    private var lastRequest = false

    init(fd: Int32) { self.fd = fd }

    func close() {
        _ = Glibc.close(fd)
        isClosed = true
    }

    var hasPendingOutput: Bool { outputSent < output.count }

    /// Nothing left to do: close it.
    var isFinished: Bool { closesAfterFlush && !hasPendingOutput }

    /// What to ask poll(2) for.
    var pollEvents: Int16 {
        var events: Int16 = 0
        if !closesAfterFlush && output.count - outputSent < Self.maximumPendingOutput { events |= Int16(POLLIN) }
        if hasPendingOutput { events |= Int16(POLLOUT) }
        return events
    }

    /// Reads what has arrived (one read: poll is level-triggered) and answers
    /// every complete request in it. False when the connection broke (e.g.
    /// ECONNRESET). The peer's end of input is not a failure: the answers
    /// already queued are still sent.
    func receive(using scratch: UnsafeMutableRawBufferPointer, routes: WebRoutes, counters: inout WebCounters) -> Bool {
        let count = read(fd, scratch.baseAddress, scratch.count)
        if count > 0 {
            input.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
            answerBufferedRequests(routes: routes, counters: &counters)
        } else if count == 0 {
            stopReading()
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            return false
        }
        return true
    }

    /// Writes as much pending output as the socket takes. False when the
    /// peer is gone (EPIPE, ECONNRESET...), which is a send failure.
    func flush() -> Bool {
        while hasPendingOutput {
            let written = output.withUnsafeBytes { write(fd, $0.baseAddress! + outputSent, $0.count - outputSent) }
            if written > 0 {
                outputSent += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                // A slow reader that keeps pipelining may never let the
                // buffer empty: drop the sent prefix now and then, or it
                // would grow for the connection's whole life.
                if outputSent >= Self.maximumPendingOutput {
                    output.removeFirst(outputSent)
                    outputSent = 0
                }
                return true
            } else {
                return false
            }
        }
        output.removeAll(keepingCapacity: true)
        outputSent = 0
        return true
    }

    /// Reads one more request, answers it with `Connection: close`, then
    /// stops: for a fresh connection at shutdown, whose client chose this
    /// worker and is sending its first request right now.
    func closeAfterNextRequest() {
        lastRequest = true
    }

    /// Reads no further requests: the ones already answered are still sent.
    func stopReading() {
        closesAfterFlush = true
        input = []
    }

    /// Answers requests from the front of `input`, then removes what they
    /// used in one go: a single read can hold hundreds of pipelined requests,
    /// and shifting the buffer after each one would be quadratic.
    private func answerBufferedRequests(routes: WebRoutes, counters: inout WebCounters) {
        var used = 0
        defer { if !input.isEmpty { input.removeFirst(used) } }  // stopReading may have emptied it already
        while !closesAfterFlush {
            if bodyBytesToSkip > 0 {
                let skipped = min(bodyBytesToSkip, input.count - used)
                used += skipped
                bodyBytesToSkip -= skipped
                if bodyBytesToSkip > 0 { return }
            }
            let outcome = input.withUnsafeBufferPointer {
                HTTPRequestParser.parse(UnsafeBufferPointer(rebasing: $0[used...]), resumeScanAt: resumeScanAt)
            }
            switch outcome {
            case .incomplete(let resume):
                resumeScanAt = resume
                return
            case .tooLarge:
                answerAndClose(WebRoutes.headTooLarge, counters: &counters)
            case .malformed:
                answerAndClose(WebRoutes.malformed, counters: &counters)
            case .complete(let request, let consumed):
                used += consumed
                resumeScanAt = 0
                if request.hasTransferEncoding {
                    answerAndClose(WebRoutes.transferEncodingUnsupported, to: request, counters: &counters)
                    break
                }
                bodyBytesToSkip = request.contentLength
                counters.requests += 1
                answered += 1
                let keepAlive = request.keepAlive && !lastRequest
                output += routes.response(to: request, counters: counters)
                    .serialized(for: request, keepAlive: keepAlive)
                if !keepAlive { stopReading() }
            }
        }
    }

    private func answerAndClose(_ response: HTTPResponse, to request: HTTPRequestHead? = nil, counters: inout WebCounters) {
        counters.requests += 1
        output += response.serialized(for: request, keepAlive: false)
        stopReading()
    }
}
