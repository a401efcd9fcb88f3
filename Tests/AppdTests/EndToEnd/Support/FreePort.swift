import Glibc

extension EndToEnd {
    /// A TCP port on 127.0.0.1 that nothing listens on right now: bind port 0,
    /// read back what the kernel chose, close, and let appd bind it. (A port
    /// just chosen from the ephemeral range is very unlikely to be chosen
    /// again at once; each test picks its own.)
    enum FreePort {
        static func tcp() throws -> UInt16 {
            let socket = try TCPListener(port: 0, listen: false)
            defer { socket.close() }
            return socket.port
        }
    }
}
