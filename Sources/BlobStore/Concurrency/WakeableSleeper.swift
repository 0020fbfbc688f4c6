import Glibc

/// A sleep that another thread can cut short: the maintenance thread waits on it between
/// rounds, and the store wakes it when work is due (page cache over budget, journal full)
/// or when it is closing.
///
/// Thread-safe: pthread mutex and condition variable, never touched outside `lock`.
final class WakeableSleeper: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var woken = false
    private var stopped = false

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Sleeps up to `seconds` or until woken. Returns false once `stop()` was called.
    func sleep(seconds: Double) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if !woken && !stopped {
            var deadline = timespec()
            clock_gettime(CLOCK_MONOTONIC, &deadline)
            let nanoseconds = Int(deadline.tv_nsec) + Int(seconds.truncatingRemainder(dividingBy: 1) * 1e9)
            deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
            deadline.tv_nsec = nanoseconds % 1_000_000_000
            pthread_cond_timedwait(&condition, &mutex, &deadline)
        }
        woken = false
        return !stopped
    }

    /// Ends the current or next sleep early.
    func wake() {
        pthread_mutex_lock(&mutex)
        woken = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Ends every sleep from now on.
    func stop() {
        pthread_mutex_lock(&mutex)
        stopped = true
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }
}
