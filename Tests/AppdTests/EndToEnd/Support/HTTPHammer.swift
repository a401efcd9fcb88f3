import Foundation
import Synchronization

extension EndToEnd {
    /// A client that sends `GET /` on a fresh connection, one after another, on
    /// its own thread (blocking socket calls stay off Swift's cooperative pool),
    /// until told to stop once it made at least `minimum` requests, and never
    /// more than `maximum`.
    final class HTTPHammer: Sendable {
        let port: UInt16
        let minimum: Int
        let maximum: Int
        private let stopRequested = Atomic<Bool>(false)
        private let made = Atomic<Int>(0)
        private let outcomes = Mutex<[HTTPProbe.Outcome]>([])
        private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let done = Atomic<Bool>(false)

        init(port: UInt16, minimum: Int = 300, maximum: Int = 5000) {
            self.port = port
            self.minimum = minimum
            self.maximum = maximum
        }

        /// Requests made so far.
        var count: Int { made.load(ordering: .relaxed) }

        func start() {
            let thread = Thread { [self] in
                while made.load(ordering: .relaxed) < maximum {
                    if stopRequested.load(ordering: .relaxed) && made.load(ordering: .relaxed) >= minimum { break }
                    let outcome = HTTPProbe.get(port: port)
                    outcomes.withLock { $0.append(outcome) }
                    made.add(1, ordering: .relaxed)
                }
                done.store(true, ordering: .releasing)
                finished.withLock { $0.take()?.resume() }
            }
            thread.start()
        }

        /// Asks it to stop (after `minimum` requests) and returns every outcome.
        func stop() async -> [HTTPProbe.Outcome] {
            stopRequested.store(true, ordering: .relaxed)
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = finished.withLock { slot -> Bool in
                    if done.load(ordering: .acquiring) { return true }
                    slot = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            return outcomes.withLock { $0 }
        }
    }
}
