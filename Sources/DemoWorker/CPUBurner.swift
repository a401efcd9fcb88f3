import Glibc

/// The `cpu` mode: keeps one core busy so the master's CPU% figure has
/// something to measure. The signal pipe is read (non-blocking) after every
/// round of work, which is cheap next to the round, so SIGTERM still ends the
/// worker within milliseconds.
enum CPUBurner {
    /// Roughly 0.3 ms of work: short enough that a stop request is noticed
    /// at once, long enough that the pipe check costs nothing measurable.
    private static let stepsPerRound = 200_000

    static func run(_ context: WorkerContext) -> Never {
        let id = context.workerID
        Log.out("cpu worker \(id) pid \(context.pid) burning CPU")
        context.announceReady(status: "burning CPU")

        // A xorshift generator: its state feeds the exit line, which keeps the
        // optimiser from deleting the loop as work without effect.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var rounds = 0
        while true {
            for _ in 0..<stepsPerRound {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
            }
            rounds += 1
            for signalNumber in context.signals.drain() {
                if signalNumber == SIGUSR1 {
                    context.logReloadRequest()
                } else {
                    context.announceStopping(status: "stopping")
                    let checksum = String(state, radix: 16)
                    Log.out("cpu worker \(id) got \(SignalPipe.name(of: signalNumber)) after \(rounds) rounds (state \(checksum)); exiting")
                    exit(0)
                }
            }
        }
    }
}
