import Shared

/// When a log file is rotated, and what a rotation renames: the pure part
/// of `RotatingLogFile`, tested without a file.
///
/// A line always goes whole into one file. Before the line that would
/// take the file past `maxBytes`, the file is rotated: `name.(keep-1)` →
/// `name.keep` (the oldest copy goes), …, `name` → `name.1`, and a new
/// `name` is begun. So every file holds at most `maxBytes`, or a single
/// line when that line alone is longer.
struct LogRotation: Equatable, Sendable {
    /// 0: never rotated.
    var maxBytes: Int
    var keep: Int

    init(maxBytes: Int, keep: Int) {
        self.maxBytes = maxBytes
        self.keep = keep
    }

    init(_ config: LogFileConfig) { self.init(maxBytes: config.maxBytes, keep: config.keep) }

    /// How many bytes at the front of `lines` (whole lines, each ending in
    /// a newline) go into a file that already holds `fileSize` bytes before
    /// it must be rotated: all when they fit; else up to the last whole
    /// line that fits; the first line alone when the file is empty and that
    /// line is longer than `maxBytes`; 0 when the file must be rotated first.
    func bytesToWrite(of lines: ArraySlice<UInt8>, intoFileOf fileSize: Int) -> Int {
        let room = maxBytes - fileSize
        guard maxBytes > 0, lines.count > room else { return lines.count }
        let newline = UInt8(ascii: "\n")
        if room > 0, let lastFitting = lines[lines.startIndex..<(lines.startIndex + room)].lastIndex(of: newline) {
            return lastFitting + 1 - lines.startIndex
        }
        guard fileSize == 0 else { return 0 }
        let endOfFirst = lines.firstIndex(of: newline).map { $0 + 1 } ?? lines.endIndex
        return endOfFirst - lines.startIndex
    }

    /// One step of a rotation.
    enum Step: Equatable {
        /// Rename, replacing what is at `to` (the oldest copy goes this way).
        case rename(from: String, to: String)
        /// `keep: 0`: the full file goes altogether.
        case remove(String)
    }

    /// The steps that rotate the file `name` away: the oldest copy is
    /// removed, then the others move up, oldest first, so no step overwrites
    /// a copy that is still to move; a missing copy is skipped.
    ///
    /// Removed, not renamed over: ext4 (`auto_da_alloc`, on by default)
    /// flushes a file renamed over an existing one to disk at once, so
    /// `name.(keep-1)` → `name.keep` made the writer thread write out every
    /// rotated copy (a tenth of its CPU in a 100 MB/s flood); with the name
    /// free, the copies stay in the page cache until the kernel writes them
    /// back or they are removed, as supervisord's rotation does.
    func steps(for name: String) -> [Step] {
        guard keep > 0 else { return [.remove(name)] }
        let moves = stride(from: keep - 1, through: 1, by: -1).map { Step.rename(from: "\(name).\($0)", to: "\(name).\($0 + 1)") }
        return [.remove("\(name).\(keep)")] + moves + [.rename(from: name, to: "\(name).1")]
    }
}
