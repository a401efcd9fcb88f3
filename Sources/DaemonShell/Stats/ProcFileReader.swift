import Glibc

/// Reads /proc files with plain open/read/close, or pread from a file the
/// caller keeps open, into one buffer kept from read to read.
///
/// Foundation's file APIs allocate a `Data` and a URL per file and go through
/// `stat` first; at a few thousand small files per request that is most of
/// the cost. Here a small /proc/PID file costs open + read + close and no
/// allocation once the buffer has grown to fit.
struct ProcFileReader {
    private var buffer: [UInt8]
    private var path = ProcPath()

    /// `capacity`: the starting buffer size; it doubles when a file is larger.
    init(capacity: Int = 1024) {
        buffer = [UInt8](repeating: 0, count: max(64, capacity))
    }

    /// Calls `body` with the whole contents of an open /proc/PID file, read
    /// from its start: the kernel writes the file afresh for a read at
    /// offset 0, so a file kept open is re-read with one pread. nil when it
    /// cannot be read, which for a process means it exited.
    ///
    /// These files (`stat`, `statm`, `status`, ...) are produced whole by
    /// one seq_file show, which a read gets entirely when the buffer has
    /// room: a read that leaves room is the end, so the read that would
    /// return 0 is saved (a thousand syscalls at 1000 workers).
    mutating func withContents<Result>(
        ofOpenProcessFile fd: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result? {
        withContents(ofDescriptor: fd, wholeAt: .readLeavingRoom, body)
    }

    /// The same for an open seq_file of short records (a cgroup's
    /// `cgroup.procs`), which a read returns at most a page of: a first read
    /// shorter than a page less one record was the whole list; otherwise
    /// the rest is read to the end of the file.
    mutating func withContents<Result>(
        ofOpenRecordFile fd: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result? {
        withContents(ofDescriptor: fd, wholeAt: .firstReadUnderAPage, body)
    }

    /// When a read says that the whole file is in.
    enum WholeAt {
        case endOfFile
        /// A read that left room in the buffer (one seq_file show).
        case readLeavingRoom
        /// A first read shorter than a page less a record (8 bytes).
        case firstReadUnderAPage
    }

    /// The same for `/proc/<pid>/<name>`, opened for this read and closed
    /// after it (for one look at a process, e.g. the walk of `ProcessTree`).
    mutating func withContents<Result>(
        ofProcess pid: Int32, _ name: StaticString, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result? {
        let fd = path.withPath(pid: pid, name) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        return withContents(ofDescriptor: fd, wholeAt: .readLeavingRoom, body)
    }

    /// Calls `body` with the whole contents of the file at `path`; nil when
    /// it cannot be opened or read.
    mutating func withContents<Result>(
        ofFile path: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        return withContents(ofDescriptor: fd, wholeAt: .endOfFile, body)
    }

    private mutating func withContents<Result>(
        ofDescriptor fd: Int32, wholeAt end: WholeAt, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result? {
        guard let length = Self.readWhole(fd, wholeAt: end, into: &buffer, at: 0) else { return nil }
        return buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[..<length])) }
    }

    /// Reads the file open as `fd` from its offset 0 into `buffer` from
    /// `start` on, doubling the buffer when it is full; the length read,
    /// nil when a read fails. (`ParallelFileReader` reads a batch of files
    /// one after another into one buffer with it.)
    static func readWhole(_ fd: Int32, wholeAt end: WholeAt, into buffer: inout [UInt8], at start: Int) -> Int? {
        var length = 0
        reading: while true {
            if start + length == buffer.count { buffer.append(contentsOf: repeatElement(0, count: max(64, buffer.count))) }
            let got = buffer.withUnsafeMutableBytes { raw in
                retryingInterrupts { pread(fd, raw.baseAddress! + start + length, raw.count - start - length, off_t(length)) }
            }
            if got < 0 { return nil }
            if got == 0 { break }
            length += got
            switch end {
            case .endOfFile: continue reading
            case .readLeavingRoom: if start + length < buffer.count { break reading }
            case .firstReadUnderAPage: if length == got, got < 4096 - 8 { break reading }
            }
        }
        return length
    }

    /// Calls `body` with each line (without its newline) of the file at
    /// `path`, reading it in chunks of the buffer's size, so that a table of
    /// tens of thousands of lines (/proc/net/tcp on a busy host) never sits
    /// in memory whole. A line longer than the buffer is passed in pieces.
    /// Throws when the file cannot be opened or read.
    mutating func forEachLine(ofFile path: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open(\(path))") }
        defer { _ = close(fd) }
        var carried = 0
        while true {
            let got = buffer.withUnsafeMutableBytes { raw in
                retryingInterrupts { read(fd, raw.baseAddress! + carried, raw.count - carried) }
            }
            if got < 0 { throw .last("read(\(path))") }
            let filled = carried + got
            carried = buffer.withUnsafeMutableBufferPointer { all -> Int in
                let bytes = UnsafeBufferPointer(rebasing: all[..<filled])
                var lineStart = 0
                for index in 0..<filled where bytes[index] == UInt8(ascii: "\n") {
                    body(UnsafeBufferPointer(rebasing: bytes[lineStart..<index]))
                    lineStart = index + 1
                }
                if got == 0 || (lineStart == 0 && filled == all.count) {
                    // End of file, or a line longer than the buffer: pass what is there.
                    if lineStart < filled { body(UnsafeBufferPointer(rebasing: bytes[lineStart..<filled])) }
                    return 0
                }
                let rest = filled - lineStart
                if rest > 0, lineStart > 0 {
                    UnsafeMutableRawPointer(all.baseAddress!).copyMemory(
                        from: all.baseAddress! + lineStart, byteCount: rest)
                }
                return rest
            }
            if got == 0 { return }
        }
    }
}

/// `/proc/<pid>/<name>` as a C string, built in a buffer kept between calls
/// rather than by string interpolation (one allocation per file otherwise).
struct ProcPath {
    private var bytes = [CChar](repeating: 0, count: 64)

    mutating func withPath<Result>(pid: Int32, _ name: StaticString, _ body: (UnsafePointer<CChar>) -> Result) -> Result {
        bytes.withUnsafeMutableBufferPointer { out in
            var length = 0
            func append(_ byte: UInt8) {
                out[length] = CChar(bitPattern: byte)
                length += 1
            }
            for byte in "/proc/".utf8 { append(byte) }
            var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var count = 0
            var value = UInt32(bitPattern: pid)
            withUnsafeMutableBytes(of: &digits) { slots in
                repeat {
                    slots[count] = UInt8(ascii: "0") + UInt8(value % 10)
                    count += 1
                    value /= 10
                } while value > 0
                for index in stride(from: count - 1, through: 0, by: -1) { append(slots[index]) }
            }
            append(UInt8(ascii: "/"))
            name.withUTF8Buffer { for byte in $0 { append(byte) } }
            out[length] = 0
            return body(out.baseAddress!)
        }
    }
}
