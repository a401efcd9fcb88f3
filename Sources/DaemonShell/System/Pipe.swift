import CSystem
import Glibc

/// A pipe for capturing a child's stdout or stderr.
enum Pipe {
    /// Both ends close-on-exec, so no other child inherits them (a child
    /// holding a sibling's write end would keep that pipe from ever reaching
    /// EOF). The read end, the master's, is non-blocking; the write end is
    /// the child's stdout and stays blocking, as programs expect.
    static func make() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        try checked("pipe2", cs_pipe(&fds))
        do throws(SystemError) {
            try FileIO.setNonBlocking(fds[0])
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        return (fds[0], fds[1])
    }
}
