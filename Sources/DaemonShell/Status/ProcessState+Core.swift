import Shared
import SupervisorCore

/// The core's slots and processes in the states `status` shows, said once
/// for the status rows and the metrics that count them.
extension ProcessStatus.State {
    /// A live process: starting until it passes its readiness rule.
    init(_ process: WorkerProcess) {
        switch process.phase {
        case .awaitingReady, .warmingUp: self = .starting
        case .ready: self = .running
        case .stopping: self = .stopping
        }
    }

    /// A slot's own row: its current process, or what the slot waits for.
    init(_ slot: WorkerSlot) {
        switch slot.state {
        case .empty: self = .stopped
        case .spawning: self = .starting
        case .backingOff: self = .backoff
        case .finished(.completed): self = .completed
        case .finished(.failed): self = .failed
        case .live(let process): self.init(process)
        }
    }

    /// Every row a slot has in `status`: its own, then one for a reload's
    /// successor and one for the outgoing process while it briefly holds two.
    static func rows(of slot: WorkerSlot) -> [ProcessStatus.State] {
        [ProcessStatus.State(slot)] + [slot.liveSuccessor, slot.outgoing].compactMap { $0 }.map(ProcessStatus.State.init)
    }
}
