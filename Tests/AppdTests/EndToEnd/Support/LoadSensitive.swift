extension EndToEnd {
    /// Tests that load the machine (fifty interpreters starting at once) or
    /// bound request latency under load take turns, across suites that
    /// otherwise run side by side, so a latency bound is never a race with
    /// a burst of process starts.
    actor LoadSensitive {
        private static let shared = LoadSensitive()
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        static func exclusively<T: Sendable>(_ body: () async throws -> T) async throws -> T {
            await shared.acquire()
            do {
                let value = try await body()
                await shared.release()
                return value
            } catch {
                await shared.release()
                throw error
            }
        }

        private func acquire() async {
            guard busy else {
                busy = true
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        private func release() {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
    }
}
