import Foundation
import Glibc

extension EndToEnd {
    /// A fresh directory under /tmp, removed (with everything in it) by
    /// `remove()` or at deinit. The name is short on purpose: unix socket paths
    /// made inside it must stay under 108 bytes.
    final class TemporaryDirectory: @unchecked Sendable {
        let path: String
        private let lock = NSLock()
        private var removed = false

        init(prefix: String = "appd-e2e-") throws {
            var template = Array("/tmp/\(prefix)XXXXXX".utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            path = String(cString: made)
        }

        /// `path/name`.
        func file(_ name: String) -> String { path + "/" + name }

        func remove() {
            lock.lock()
            defer { lock.unlock() }
            guard !removed else { return }
            removed = true
            try? FileManager.default.removeItem(atPath: path)
        }

        deinit { remove() }
    }
}
