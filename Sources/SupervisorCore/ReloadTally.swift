/// How a group's reloads ended, counted: for metrics, which need counters
/// that only go up. Kept by the group, so it lasts as long as the group
/// does (every reload and scale included); `lastReload` says how the latest
/// one went and how long it took.
public struct ReloadTally: Sendable, Equatable {
    /// Every out-of-date process was replaced.
    public private(set) var completed = 0
    /// A non-reloadable group's processes were sent SIGUSR1.
    public private(set) var signalled = 0
    /// Stopped early: the processes not yet replaced kept serving.
    public private(set) var aborted = 0

    mutating func record(_ finished: FinishedReload) {
        switch finished.result.outcome {
        case .completed: completed += 1
        case .signalled: signalled += 1
        case .aborted: aborted += 1
        }
    }
}
