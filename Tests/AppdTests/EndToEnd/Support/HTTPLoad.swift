import Foundation
import Synchronization
import Testing

extension EndToEnd {
    /// Load on an HTTP port from `clients` threads, each sending `GET /` one
    /// request after another, on a fresh connection per request or on one
    /// keep-alive connection (a new one only when the server says
    /// `Connection: close`), recording each request's outcome and latency,
    /// until stopped (and never past `maximum` requests in all).
    final class HTTPLoad: Sendable {
        struct Sample: Sendable {
            var outcome: HTTPProbe.Outcome
            /// Seconds from connect (or send, on a kept connection) to the whole answer.
            var latency: Double
        }

        let port: UInt16
        let clients: Int
        let keepAlive: Bool
        let maximum: Int
        private let stopRequested = Atomic<Bool>(false)
        private let made = Atomic<Int>(0)
        private let running = Atomic<Int>(0)
        private let samples = Mutex<[Sample]>([])

        init(port: UInt16, clients: Int = 4, keepAlive: Bool, maximum: Int = 200_000) {
            self.port = port
            self.clients = clients
            self.keepAlive = keepAlive
            self.maximum = maximum
        }

        var count: Int { made.load(ordering: .relaxed) }

        func start() {
            for _ in 0..<clients {
                running.add(1, ordering: .relaxed)
                Thread { [self] in
                    run()
                    running.subtract(1, ordering: .releasing)
                }.start()
            }
        }

        private func run() {
            var connection: HTTPProbe?
            while !stopRequested.load(ordering: .relaxed), made.add(1, ordering: .relaxed).newValue <= maximum {
                let started = ContinuousClock.now
                var outcome: HTTPProbe.Outcome
                if connection == nil {
                    switch HTTPProbe.connect(port: port) {
                    case .success(let connected): connection = connected
                    case .failure(let failure): outcome = failure.outcome
                        record(outcome, since: started)
                        continue
                    }
                }
                if let failure = connection!.sendRequest(keepAlive: keepAlive) {
                    outcome = failure
                } else {
                    outcome = connection!.receiveAnswer()
                }
                record(outcome, since: started)
                if !keepAlive || connection!.answerClosesConnection { connection = nil }
                if case .answered = outcome {} else { connection = nil }
            }
        }

        private func record(_ outcome: HTTPProbe.Outcome, since started: ContinuousClock.Instant) {
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            samples.withLock { $0.append(Sample(outcome: outcome, latency: seconds)) }
        }

        /// Stops every client after its request in flight and returns every sample.
        func stop() async throws -> [Sample] {
            stopRequested.store(true, ordering: .relaxed)
            try await Polling.until(timeout: 15, "the load clients to finish their last request") {
                running.load(ordering: .acquiring) == 0
            }
            return samples.withLock { $0 }
        }
    }
}
