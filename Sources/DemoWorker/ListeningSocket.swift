/// The web worker's listening socket, however it came: inherited from the
/// master (`SocketActivation`) or bound by the worker itself (`LoopbackPort`).
/// Non-blocking and close-on-exec either way.
struct ListeningSocket {
    let fd: Int32
    /// Where it listens, for log lines: "fd 3", "127.0.0.1:8080".
    let name: String

    /// Why there is no socket to serve on; the worker exits 2 with it.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}
