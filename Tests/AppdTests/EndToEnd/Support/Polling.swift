import Foundation
import Testing

extension EndToEnd {
    /// A condition that did not come true before its deadline.
    struct WaitTimedOut: Error, CustomStringConvertible {
        var what: String
        var seconds: Double
        var location: SourceLocation
        var context: String

        var description: String {
            "timed out after \(seconds)s waiting for: \(what) (at \(location.fileName):\(location.line))"
                + (context.isEmpty ? "" : "\n--- context ---\n\(context)")
        }
    }

    /// Deadline polling on a real condition, every ~10 ms, never a fixed sleep.
    enum Polling {
        static let interval: Duration = .milliseconds(10)

        /// Polls `probe` until it returns a value; throws `WaitTimedOut` (which
        /// fails the test) with `context()` appended, e.g. the daemon's log.
        static func value<T>(
            timeout: Double, _ what: String, context: () -> String = { "" },
            sourceLocation: SourceLocation = #_sourceLocation, _ probe: () throws -> T?
        ) async throws -> T {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while true {
                if let value = try probe() { return value }
                if ContinuousClock.now >= deadline {
                    throw WaitTimedOut(what: what, seconds: timeout, location: sourceLocation, context: context())
                }
                try await Task.sleep(for: interval)
            }
        }

        static func until(
            timeout: Double, _ what: String, context: () -> String = { "" },
            sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool
        ) async throws {
            _ = try await value(timeout: timeout, what, context: context, sourceLocation: sourceLocation) {
                try condition() ? true : nil
            }
        }

        /// For teardown paths that cannot be async (deinit): blocks the thread.
        @discardableResult
        static func blockingUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while !condition() {
                if ContinuousClock.now >= deadline { return false }
                usleep(10_000)
            }
            return true
        }
    }
}
