import Testing
@testable import DaemonShell
@testable import SupervisorCore
import Shared

/// SplitMix64: a tiny seeded generator, so a failing sequence replays exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Drives the core through thousands of random sequences of exits, signals,
/// requests, readiness and time, checking the invariants after every step.
/// Set APPD_SEED to replay one sequence.
@Suite struct SupervisorRandomizedTests {
    static let sequences = 3000
    static let stepsPerSequence = 80

    @Test func invariantsHoldUnderRandomEventOrderings() {
        let seeds: [UInt64]
        if let text = Environment.value("APPD_SEED"), let seed = UInt64(text) {
            seeds = [seed]
        } else {
            seeds = (0..<UInt64(Self.sequences)).map { 0xA11D_0000 + $0 }
        }
        for seed in seeds {
            if let failure = Self.run(seed: seed) {
                Issue.record("seed \(seed) (replay with APPD_SEED=\(seed)): \(failure)")
                return
            }
        }
    }

    static func randomGroups(_ rng: inout SeededGenerator, names: [String]) -> [GroupConfig] {
        names.map { name in
            let readiness: Readiness = [.none, .notify, .afterSeconds(0.5)].randomElement(using: &rng)!
            return SupervisorHarness.group(
                name, count: Int.random(in: 0...4, using: &rng), readiness: readiness,
                reloadable: Int.random(in: 0..<4, using: &rng) != 0, stopTimeout: [0.5, 2].randomElement(using: &rng)!,
                strategy: Int.random(in: 0..<3, using: &rng) == 0 ? .stopFirst : .startFirst,
                maxSurge: Int.random(in: 1...2, using: &rng),
                watchdogSeconds: Int.random(in: 0..<4, using: &rng) == 0 ? 2 : nil)
        }
    }

    /// Returns a description of the first broken invariant, or nil.
    static func run(seed: UInt64) -> String? {
        var rng = SeededGenerator(seed: seed)
        let allNames = ["web", "queue", "cron"]
        var h = SupervisorHarness(randomGroups(&rng, names: Array(allNames.prefix(Int.random(in: 1...3, using: &rng)))))
        // Half the sequences leave spawns queued between steps, as the shell
        // does beyond its per-turn budget.
        h.deferSpawns = Bool.random(using: &rng)
        var trace: [String] = ["defer spawns: \(h.deferSpawns)"]

        for step in 0..<stepsPerSequence {
            let alive = h.alive.sorted()
            let group = allNames.randomElement(using: &rng)!
            let action = Int.random(in: 0..<100, using: &rng)
            switch action {
            case 0..<22 where !alive.isEmpty:
                let pid = alive.randomElement(using: &rng)!
                let status: ExitStatus = [.exited(code: 0), .exited(code: 3), .killed(signal: .kill), .killed(signal: UnixSignal(number: 11))].randomElement(using: &rng)!
                trace.append("exit \(pid) \(status)")
                h.exit(pid, status)
            case 22..<32 where !alive.isEmpty:
                let pid = alive.randomElement(using: &rng)!
                if Bool.random(using: &rng) {
                    trace.append("ready \(pid)")
                    h.send(.ready(pid: pid))
                } else {
                    trace.append("watchdog \(pid)")
                    h.send(.watchdog(pid: pid))
                }
            case 32..<47:
                let seconds = [0.05, 0.3, 1, 3].randomElement(using: &rng)!
                trace.append("advance \(seconds)")
                h.advance(seconds)
            case 47..<60:
                // Processes obey some of the signals they were sent.
                for (pid, signal) in h.signals where h.alive.contains(pid) && signal != .user1 && Bool.random(using: &rng) {
                    trace.append("obey \(pid) \(signal)")
                    h.exit(pid, .killed(signal: signal))
                }
            case 60..<68:
                let config: DaemonConfig? = Bool.random(using: &rng)
                    ? SupervisorHarness.config(randomGroups(&rng, names: allNames.filter { _ in Bool.random(using: &rng) }))
                    : nil
                let target: String? = Bool.random(using: &rng) ? group : nil
                trace.append("reload \(target ?? "all") config: \(config.map { $0.groups.map { "\($0.name)×\($0.count)" } } ?? [])")
                h.request(.reload(group: target, config: config))
            case 68..<73:
                trace.append("restart \(group)")
                h.request(.restart(group: Bool.random(using: &rng) ? group : nil))
            case 73..<78:
                trace.append("stop \(group)")
                h.request(.stopGroup(group))
            case 78..<83:
                trace.append("start \(group)")
                h.request(.startGroup(group))
            case 83..<89:
                let count = Int.random(in: 0...5, using: &rng)
                trace.append("scale \(group) \(count)")
                h.request(.scale(group: group, count: count))
            case 89..<92:
                trace.append("signal \(group) HUP")
                h.request(.signal(group: group, .hangup))
            case 92..<95:
                let ref = WorkerRef(group: group, id: Int.random(in: 0..<4, using: &rng))
                if h.failingSpawns.contains(ref) { h.failingSpawns.remove(ref) } else { h.failingSpawns.insert(ref) }
                trace.append("toggle failing spawn \(ref)")
            case 95..<97 where h.deferSpawns && Bool.random(using: &rng):
                let count = Int.random(in: 1...4, using: &rng)
                trace.append("run \(count) queued spawns")
                h.runQueuedSpawns(count)
            case 95..<97:
                trace.append("stray exit")
                h.send(.childExited(pid: 1_000_000 + Int32(step), status: .exited(code: 0)))
            case 97..<99:
                trace.append("stop daemon")
                h.request(.stopDaemon)
            default:
                break
            }
            if let broken = checkInvariants(&h) {
                return "\(broken) after step \(step): \(trace.suffix(40).joined(separator: "; "))"
            }
        }

        // Whatever happened, a stop ends with the master done.
        h.failingSpawns = []
        h.request(.stopDaemon)
        for _ in 0..<20 where h.exitCode == nil {
            h.runQueuedSpawns()
            h.obeySignals()
            h.advance(5)
        }
        if h.exitCode != 0 { return "stop did not finish; alive: \(h.alive.sorted())" }
        if !h.alive.isEmpty { return "processes alive after exit: \(h.alive.sorted())" }
        if let unanswered = h.reloadsOwed.first(where: { $0.value != 0 }) {
            return "group \(unanswered.key) owed \(unanswered.value) reload outcomes at exit"
        }
        return checkInvariants(&h)
    }

    static func checkInvariants(_ h: inout SupervisorHarness) -> String? {
        if let violation = h.violations.first { return violation }
        let s = h.supervisor
        if s.liveProcessCount != h.alive.count {
            return "core tracks \(s.liveProcessCount) processes, \(h.alive.count) are alive"
        }
        // A removed group takes its tally with it; a re-added one starts afresh.
        for name in h.exitsFed.keys where s.group(named: name) == nil { h.exitsFed[name] = nil }
        for name in h.countersSeen.keys where s.group(named: name) == nil { h.countersSeen[name] = nil }
        for group in s.groups {
            let count = group.config.count
            for (index, slot) in group.slots.enumerated() {
                if slot.id != index { return "\(group.name): slot at \(index) has id \(slot.id)" }
                if let process = slot.process, !h.alive.contains(process.pid) {
                    return "\(group.name)#\(index) holds dead pid \(process.pid)"
                }
                let queued = h.queuedSpawns.contains { $0.worker == WorkerRef(group: group.name, id: index) && $0.role == .current }
                if slot.state == .spawning, !queued { return "\(group.name)#\(index) left spawning with no spawn queued" }
                let successorQueued = h.queuedSpawns.contains { $0.worker == WorkerRef(group: group.name, id: index) && $0.role == .successor }
                if slot.successor == .spawning, !successorQueued { return "\(group.name)#\(index) successor left spawning with no spawn queued" }
                let wanted = !s.isStopping && group.wantsRunning && index < count
                if wanted, slot.state == .empty { return "\(group.name)#\(index) lost: empty while wanted" }
                if !wanted, case .backingOff = slot.state { return "\(group.name)#\(index) backing off while not wanted" }
            }
            let serving = group.slots.flatMap { [$0.process, $0.liveSuccessor] }.compactMap { $0 }.filter { !$0.isStopping }.count
            // The reload's own width: a config applied mid-reload may lower maxSurge.
            let surge = group.reload.map { $0.strategy == .startFirst ? $0.width : 0 } ?? 0
            if serving > count + surge { return "\(group.name): \(serving) processes not stopping for count \(count) + surge \(surge)" }
            for slot in group.slots {
                // A successor that is not stopping belongs to a step of a running reload.
                if let successor = slot.liveSuccessor, !successor.isStopping,
                   group.reload?.steps.contains(where: { $0.slot == slot.id && $0.phase == .successorStarting }) != true {
                    return "\(group.name)#\(slot.id): successor \(successor.pid) outside a reload step"
                }
                // Start-first stops an old process only after its successor
                // took over: a process stopped by a reload is outgoing.
                if let current = slot.process, current.stopOrder?.reason == .reload, group.reload?.strategy == .startFirst,
                   group.reload?.stepIndex(slot: slot.id) != nil {
                    return "\(group.name)#\(slot.id): start-first reload stopped pid \(current.pid) before a successor was ready"
                }
            }
            if group.exits.exits != h.exitsFed[group.name, default: 0] {
                return "\(group.name): tally \(group.exits.exits) != exits fed \(h.exitsFed[group.name, default: 0])"
            }
            if group.exits.exitsByReason.values.reduce(0, +) != group.exits.exits {
                return "\(group.name): exits by reason \(group.exits.exitsByReason) do not add up to \(group.exits.exits)"
            }
            let counters = [group.exits.exits, group.exits.restarts, group.exits.failures.reduce(0) { $0 + $1.count },
                            group.reloads.completed, group.reloads.signalled, group.reloads.aborted]
            if let seen = h.countersSeen[group.name], zip(seen, counters).contains(where: { $0 > $1 }) {
                return "\(group.name): a counter went down: \(seen) → \(counters)"
            }
            h.countersSeen[group.name] = counters
        }
        if s.isFinished != (h.exitCode != nil) { return "finished flag and exit effect disagree" }
        return nil
    }
}

enum Environment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}

#if canImport(Glibc)
import Glibc
#endif
