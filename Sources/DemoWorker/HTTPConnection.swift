import Glibc

/// One accepted client connection: bytes received but not yet answered, and
/// response bytes not yet sent. Requests are answered in order as soon as
/// their head is complete, so pipelined requests need nothing special.
///
/// A connection ends with a lingering close (as nginx and Apache do): once
/// its last answer is sent it sends its FIN (shutdown(SHUT_WR)) but keeps
/// reading, and discarding, until the client's FIN. Closing a socket with
/// unread input makes the kernel answer with a reset instead, and a reset
/// can destroy the last answer in the client's receive buffer before the
/// client has read it.
final class HTTPConnection {
    /// Beyond this much unsent output the connection stops reading, so a
    /// client that pipelines without reading cannot grow memory without bound.
    static let maximumPendingOutput = 64 * 1024
    /// How long a lingering close waits for the client's FIN. A client
    /// normally closes as soon as it has read an answer with
    /// `Connection: close`; one that keeps the connection open unused (an
    /// idle pool) is not waited for longer than this.
    static let lingeringTime: Int64 = 500_000_000

    let fd: Int32
    private var input: [UInt8] = []
    private var resumeScanAt = 0
    private var bodyBytesToSkip = 0
    private var output: [UInt8] = []
    private var outputSent = 0
    /// No more requests will be read: set by "Connection: close", an error
    /// answer, the peer's end of input, or the server's drain. Once its
    /// output is flushed the connection goes to its lingering close.
    private var closesAfterFlush = false
    /// The client sent its FIN: nothing more will come.
    private var peerFinished = false
    /// Set when our FIN is sent: the lingering close ends at the client's
    /// FIN or at this time, whichever comes first.
    private(set) var lingeringUntil: Int64?

    /// Set by `close`; the server then forgets the connection.
    private(set) var isClosed = false
    /// The server is draining: the next request is the last one read.
    private var lastRequest = false
    /// When bytes last moved either way (or the connection was accepted).
    private(set) var lastActivityAt: Int64

    init(fd: Int32, acceptedAt: Int64) {
        self.fd = fd
        self.lastActivityAt = acceptedAt
    }

    func close() {
        _ = Glibc.close(fd)
        isClosed = true
    }

    var hasPendingOutput: Bool { outputSent < output.count }

    /// Between requests: nothing buffered of a next request, no answer
    /// still to send, and more requests welcome.
    var isIdle: Bool { !closesAfterFlush && input.isEmpty && bodyBytesToSkip == 0 && !hasPendingOutput }

    /// What to ask poll(2) for.
    var pollEvents: Int16 {
        var events: Int16 = 0
        let wantsInput = closesAfterFlush
            ? lingeringUntil != nil && !peerFinished
            : output.count - outputSent < Self.maximumPendingOutput
        if wantsInput { events |= Int16(POLLIN) }
        if hasPendingOutput { events |= Int16(POLLOUT) }
        return events
    }

    /// Reads what has arrived (one read: poll is level-triggered) and answers
    /// every complete request in it; during a lingering close the bytes are
    /// discarded. False when the connection broke (e.g. ECONNRESET). The
    /// peer's end of input is not a failure: the answers already queued are
    /// still sent.
    func receive(using scratch: UnsafeMutableRawBufferPointer, routes: WebRoutes, counters: inout WebCounters) -> Bool {
        let count = read(fd, scratch.baseAddress, scratch.count)
        if count > 0 {
            guard !closesAfterFlush else { return true }
            lastActivityAt = MonotonicClock.now()
            input.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
            answerBufferedRequests(routes: routes, counters: &counters)
        } else if count == 0 {
            peerFinished = true
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
                lastActivityAt = MonotonicClock.now()
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
    /// stops: at shutdown, so a client that is sending requests gets a last
    /// answer and an explicit word to reconnect, instead of a closed
    /// connection under its next request.
    func closeAfterNextRequest() {
        lastRequest = true
    }

    /// Moves a connection that has said everything (no more requests to
    /// read, output flushed) towards close(2): sends our FIN and starts the
    /// lingering close. True when it may be closed now: the client's FIN has
    /// come, the lingering time is over, or the FIN could not be sent (the
    /// peer is gone).
    func advanceTowardClose(now: Int64) -> Bool {
        guard closesAfterFlush && !hasPendingOutput else { return false }
        if peerFinished { return true }
        if let lingeringUntil { return now >= lingeringUntil }
        guard shutdown(fd, Int32(SHUT_WR)) == 0 else { return true }
        lingeringUntil = now + Self.lingeringTime
        return false
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
