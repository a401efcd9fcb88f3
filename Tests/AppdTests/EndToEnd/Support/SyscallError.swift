import Glibc

extension EndToEnd {
    /// A failed system call, with its errno in words.
    struct SyscallError: Error, CustomStringConvertible {
        var call: String
        var errno: Int32

        static func last(_ call: String) -> SyscallError { SyscallError(call: call, errno: Glibc.errno) }

        var description: String { "\(call): \(String(cString: strerror(errno)))" }
    }
}
