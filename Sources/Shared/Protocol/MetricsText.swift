/// A `metrics` item: a piece of the Prometheus text exposition, whole
/// lines, in order. The pieces joined are the exposition; a client prints
/// each as it comes.
public struct MetricsText: Hashable, Sendable, Codable {
    public var text: String

    public init(text: String) { self.text = text }

    /// The most bytes a piece holds (unless one line is longer): replies of
    /// thousands of workers stay many lines of modest size, far from the
    /// 4 MiB a reply line may have.
    public static let maximumPieceBytes = 64 * 1024

    /// The exposition (UTF-8) cut after newlines into pieces of at most
    /// `maximumBytes`; a longer line is a piece of its own.
    public static func pieces(of exposition: [UInt8], maximumBytes: Int = maximumPieceBytes) -> [MetricsText] {
        var pieces: [MetricsText] = []
        var start = 0
        var lastLineEnd = 0
        for (index, byte) in exposition.enumerated() where byte == UInt8(ascii: "\n") {
            let end = index + 1
            if end - start > maximumBytes, lastLineEnd > start {
                pieces.append(MetricsText(text: String(decoding: exposition[start..<lastLineEnd], as: UTF8.self)))
                start = lastLineEnd
            }
            lastLineEnd = end
        }
        if lastLineEnd > start { pieces.append(MetricsText(text: String(decoding: exposition[start..<lastLineEnd], as: UTF8.self))) }
        if exposition.count > lastLineEnd {
            pieces.append(MetricsText(text: String(decoding: exposition[lastLineEnd...], as: UTF8.self)))
        }
        return pieces
    }
}
