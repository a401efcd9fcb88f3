/// Where one line is in the buffer a worker's pipe was read into: its bytes
/// (without the newline), and whether it is a piece cut off a longer line,
/// which every place it is written ends with `cutMarker`. Lines are handed
/// on as spans of the read, so the flood of a worker costs no copy per line
/// until the line is stored.
struct LineSpan: Equatable {
    var range: Range<Int>
    var cut = false

    /// What a cut piece ends with, wherever it is written.
    static let cutMarker = Array(" [line cut at 16 KiB]".utf8)

    /// Its text: the bytes of `buffer` it spans, and the marker when cut.
    func text(in buffer: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        Array(buffer[range]) + (cut ? Self.cutMarker : [])
    }
}
