import CSystem
import Glibc

/// A pipe for capturing a child's stdout or stderr.
enum Pipe {
    /// Both ends close-on-exec, so no other child inherits them (a child
    /// holding a sibling's write end would keep that pipe from ever reaching
    /// EOF). The read end, the master's, is non-blocking for the loop, unless
    /// `blockingRead` (a thread of its own waits on it); the write end is the
    /// child's stdout and stays blocking, as programs expect.
    static func make(blockingRead: Bool = false) throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        try checked("pipe2", cs_pipe(&fds))
        guard !blockingRead else { return (fds[0], fds[1]) }
        do throws(SystemError) {
            try FileIO.setNonBlocking(fds[0])
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        return (fds[0], fds[1])
    }

    /// Raises the capacity of the pipe at `fd` to `bytes` (1 MiB at most for
    /// a user without CAP_SYS_RESOURCE, /proc/sys/fs/pipe-max-size); the
    /// capacity it got, nil when the kernel refused (then it stays as it was).
    static func grow(_ fd: Int32, to bytes: Int) -> Int? {
        let size = cs_pipe_set_size(fd, Int32(bytes))
        return size < 0 ? nil : Int(size)
    }
}
