import Glibc

/// A failed system call, said the way an operator reads it:
/// `bind(tcp://127.0.0.1:8080): Address already in use`.
///
/// Every wrapper in `System/` throws this and nothing else, so errno never
/// leaks past this layer and every message names the call and its subject.
struct SystemError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The call and what it was applied to, e.g. `bind(tcp://127.0.0.1:8080)`.
    var call: String
    var errno: Int32
    /// Said instead of strerror's text where errno alone would mislead
    /// ("another appd is listening there" rather than "Address already in use").
    var reason: String?

    init(call: String, errno: Int32, reason: String? = nil) {
        self.call = call
        self.errno = errno
        self.reason = reason
    }

    /// The error the last failed call left in errno.
    static func last(_ call: String) -> SystemError {
        SystemError(call: call, errno: Glibc.errno)
    }

    var description: String {
        "\(call): \(reason ?? String(cString: strerror(errno)))"
    }
}

/// Throws errno as a `SystemError` when a call returned -1; passes any other result through.
@discardableResult
func checked<Result: BinaryInteger>(_ call: @autoclosure () -> String, _ result: Result) throws(SystemError) -> Result {
    if result == -1 { throw SystemError.last(call()) }
    return result
}

/// Repeats a call that a signal interrupted (EINTR): the master blocks most
/// signals, but a debugger or SIGSTOP/SIGCONT can still interrupt it.
func retryingInterrupts<Result: BinaryInteger>(_ body: () -> Result) -> Result {
    while true {
        let result = body()
        if result != -1 || errno != EINTR { return result }
    }
}
