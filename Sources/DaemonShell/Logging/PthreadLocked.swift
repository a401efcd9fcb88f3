import Glibc

/// A value only reached under a pthread mutex: what `Synchronization.Mutex`
/// gives, with a lock ThreadSanitizer can see. This toolchain's TSan cannot
/// see `Mutex` (scripts/tsan.supp) and reports every access it guards; a
/// suppression cannot cover that in appd, because at shutdown appd kills
/// every child left (TSan's llvm-symbolizer among them), and a report that
/// can no longer be symbolized cannot be matched to a suppression. TSan
/// intercepts `pthread_mutex_lock`, so the sanitizer run checks the log's
/// queue instead of taking it on trust.
final class PthreadLocked<Value: Sendable>: @unchecked Sendable {
    /// Allocated once: a pthread mutex must not move.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
