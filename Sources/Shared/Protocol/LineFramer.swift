/// Cuts a byte stream into lines: the framing of the control protocol, used
/// by the daemon on requests and by `appctl` on replies.
///
/// Feed whatever `read` returned with `append`, then take lines with
/// `nextLine` until it returns nil. A line ends at `\n`; a `\r` before it is
/// dropped (so `socat`/`nc -C` users are served); blank lines are skipped so
/// a person typing into the socket may press Enter freely.
///
/// The length limit protects the reader's memory, so it is enforced while
/// bytes arrive, not when a newline finally shows up: as soon as the pending
/// partial line is longer than `maxLineLength`, its bytes are dropped, no
/// more are kept, and `nextLine` throws `LineTooLong` once the complete lines
/// before it have been taken. The stream cannot be resynchronised after that
/// (where would the next line start?), so the connection should be closed.
public struct LineFramer: Sendable {
    /// 1 MiB, the protocol's limit for one line (not counting the `\n`).
    public static let protocolLineLimit = 1 << 20

    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    /// Where the first line not yet taken starts in `buffer`.
    private var lineStart = 0
    /// How far past `lineStart` we already know there is no newline, so a
    /// line arriving in many small reads is scanned once, not once per read.
    private var scannedUpTo = 0
    /// Bytes after the last newline in `buffer`: the partial line.
    private var partialLength = 0
    private var overflowed = false

    public init(maxLineLength: Int = LineFramer.protocolLineLimit) {
        self.maxLineLength = maxLineLength
    }

    /// The data ended cleanly: no partial line is waiting for its newline.
    public var isAtLineBoundary: Bool { partialLength == 0 && !overflowed }

    public mutating func append(_ bytes: some BidirectionalCollection<UInt8>) {
        guard !overflowed, !bytes.isEmpty else { return }
        let completeEnd = bytes.lastIndex(of: UInt8(ascii: "\n")).map { bytes.index(after: $0) }
        let newPartialLength = completeEnd.map { bytes.distance(from: $0, to: bytes.endIndex) }
            ?? partialLength + bytes.count
        if newPartialLength <= maxLineLength {
            buffer.append(contentsOf: bytes)
            partialLength = newPartialLength
            return
        }
        // The partial line is over the limit: keep only the complete lines.
        if let completeEnd {
            buffer.append(contentsOf: bytes[..<completeEnd])
        } else {
            buffer.removeLast(partialLength)
            scannedUpTo = min(scannedUpTo, buffer.count - lineStart)
        }
        partialLength = 0
        overflowed = true
    }

    /// The next complete line without its `\n` or `\r\n`; nil when none is
    /// complete yet. Throws once a line over the limit is reached.
    public mutating func nextLine() throws(LineTooLong) -> [UInt8]? {
        while true {
            guard let newline = buffer[(lineStart + scannedUpTo)...].firstIndex(of: UInt8(ascii: "\n")) else {
                scannedUpTo = buffer.count - lineStart
                if overflowed { throw LineTooLong(limit: maxLineLength) }
                return nil
            }
            let length = newline - lineStart
            if length > maxLineLength {
                overflowed = true
                buffer.removeAll()
                lineStart = 0
                scannedUpTo = 0
                partialLength = 0
                throw LineTooLong(limit: maxLineLength)
            }
            var end = newline
            if end > lineStart, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = Array(buffer[lineStart..<end])
            lineStart = newline + 1
            scannedUpTo = 0
            compact()
            if !line.isEmpty { return line }
        }
    }

    /// Reclaims the space of lines already taken, lazily, so that taking many
    /// lines from one big read does not shift the buffer once per line.
    private mutating func compact() {
        if lineStart == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            lineStart = 0
        } else if lineStart >= 4096, lineStart * 2 >= buffer.count {
            buffer.removeFirst(lineStart)
            lineStart = 0
        }
    }
}

/// A line over the framer's limit arrived; the stream cannot be resumed.
public struct LineTooLong: Error, Hashable, Sendable {
    public let limit: Int

    public init(limit: Int) { self.limit = limit }
}
