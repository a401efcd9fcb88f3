import Glibc

/// Reads and writes on the master's non-blocking fds (pipes, sockets), where
/// "not now" (EAGAIN) is an ordinary answer rather than an error. Files
/// appd writes in its runtime directories are opened through
/// `RuntimeDirectory`, never by path here.
enum FileIO {
    enum ReadResult: Equatable, Sendable {
        case bytes([UInt8])
        case wouldBlock
        case endOfFile
        case failed(SystemError)
    }

    /// Up to `max` bytes.
    static func read(_ fd: Int32, max: Int) -> ReadResult {
        var buffer = [UInt8](repeating: 0, count: max)
        let count = buffer.withUnsafeMutableBytes { raw in
            retryingInterrupts { Glibc.read(fd, raw.baseAddress, raw.count) }
        }
        switch count {
        case 0: return .endOfFile
        case 1...: return .bytes(Array(buffer[..<count]))
        case _ where errno == EAGAIN || errno == EWOULDBLOCK: return .wouldBlock
        default: return .failed(.last("read(fd \(fd))"))
        }
    }

    enum ReadCount: Equatable, Sendable {
        case count(Int)
        case wouldBlock
        case endOfFile
        case failed(SystemError)
    }

    /// Up to `buffer.count` bytes into `buffer`, which the caller reuses:
    /// the read of a pipe that floods costs no allocation.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> ReadCount {
        let count = retryingInterrupts { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        switch count {
        case 0: return .endOfFile
        case 1...: return .count(count)
        case _ where errno == EAGAIN || errno == EWOULDBLOCK: return .wouldBlock
        default: return .failed(.last("read(fd \(fd))"))
        }
    }

    /// Writes what the fd takes now and returns how many bytes that was
    /// (possibly fewer than given: keep the rest for the next writable
    /// event); nil when it takes nothing now (EAGAIN).
    static func write(_ fd: Int32, _ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int? {
        let count = bytes.withUnsafeBytes { raw in
            retryingInterrupts { Glibc.write(fd, raw.baseAddress, raw.count) }
        }
        if count >= 0 { return count }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        throw .last("write(fd \(fd))")
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) -> Int? {
        try write(fd, bytes[...])
    }

    /// Writes all of `bytes` to a blocking fd (a regular file), going on
    /// after partial writes (a full disk shows as one, then as ENOSPC).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var rest = bytes[...]
        while !rest.isEmpty {
            // A blocking fd never says EAGAIN nor takes nothing; stop rather than spin if it does.
            guard let count = try write(fd, rest), count > 0 else { throw SystemError(call: "write(fd \(fd))", errno: EAGAIN) }
            rest = rest.dropFirst(count)
        }
    }

    /// Closes without retrying: on Linux the fd is gone even when close
    /// reports EINTR, and a retry could close someone else's new fd.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Shuts the sending side of a connected socket: the peer reads EOF
    /// after what was written, while this side can still read what it sends.
    static func shutdownWriting(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try checked("fcntl(fd \(fd), F_GETFL)", fcntl(fd, F_GETFL))
        try checked("fcntl(fd \(fd), F_SETFL)", fcntl(fd, F_SETFL, flags | O_NONBLOCK))
    }

    /// /dev/null, opened once (close-on-exec) and shared: every child's stdin.
    static func nullDevice() throws(SystemError) -> Int32 {
        try nullDeviceFD.get()
    }

    private static let nullDeviceFD: Result<Int32, SystemError> = {
        let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
        return fd >= 0 ? .success(fd) : .failure(.last("open(/dev/null)"))
    }()
}
