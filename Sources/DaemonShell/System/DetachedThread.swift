import Glibc

/// A thread of its own for one long job (a log's writer), detached: nobody
/// joins it, it ends when its job returns. pthread_create rather than
/// Foundation's Thread, which appd does not otherwise need, and so that it
/// is started only where the caller says (after the signals are blocked:
/// the thread inherits the mask and never takes a signal meant for the loop).
enum DetachedThread {
    /// The job, kept alive until the thread has run it.
    private final class Job {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts `run` on a new thread; false when none could be made (the
    /// caller then cleans up what the job would have).
    static func start(_ run: @escaping @Sendable () -> Void) -> Bool {
        let context = Unmanaged.passRetained(Job(run)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<Job>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }
}
