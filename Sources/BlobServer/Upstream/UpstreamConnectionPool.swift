import Glibc

/// Keep-alive connections per upstream origin, with two caps per origin: idle connections kept
/// (`maxIdle`), and connections open at once (`maxOpen`), idle or in use. A caller over the
/// open cap waits for a connection to come back or close.
///
/// Idle connections are reused newest first (the likeliest to be alive), and closed instead of
/// reused once idle longer than `maxIdleSeconds` or when the peer has closed them.
///
/// Thread-safe: a pthread mutex guards every origin's state; a condition variable on the
/// monotonic clock wakes waiters (Synchronization's Mutex has no condition). Connections are
/// closed outside the lock.
final class UpstreamConnectionPool: @unchecked Sendable {
    struct Limits: Sendable {
        var maxIdle: Int
        var maxOpen: Int
        var maxIdleSeconds: Double
    }

    /// What `acquire` hands out.
    enum Lease {
        /// A pooled connection, now owned by the caller.
        case reused(UpstreamConnection)
        /// A slot for a connection the caller opens; it reports back with `release`,
        /// `discard`, or `cancel` when opening failed.
        case slot
    }

    private struct OriginState {
        var idle: [UpstreamConnection] = []
        var open = 0
    }

    let limits: Limits
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var origins: [UpstreamOrigin: OriginState] = [:]

    init(limits: Limits) {
        self.limits = limits
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

    /// An idle connection to `origin` (unless `fresh`), else a slot for a new one, waiting
    /// while the origin has `maxOpen` connections, until `deadline`.
    func acquire(_ origin: UpstreamOrigin, fresh: Bool, deadline: IODeadline) throws(UpstreamConnectionFailure) -> Lease {
        while true {
            var expired: [UpstreamConnection] = []
            let lease = locked { () -> Lease? in
                var state = origins[origin, default: OriginState()]
                defer { origins[origin] = state }
                let now = monotonicNanoseconds()
                let maxIdleNanoseconds = UInt64(limits.maxIdleSeconds * 1e9)
                while !fresh, let connection = state.idle.popLast() {
                    if now - connection.idleSince <= maxIdleNanoseconds { return .reused(connection) }
                    expired.append(connection)
                    state.open -= 1
                }
                if state.open < limits.maxOpen {
                    state.open += 1
                    return .slot
                }
                // At the cap: an idle connection gives way to a fresh one that was asked for.
                if fresh, let oldest = state.idle.first {
                    state.idle.removeFirst()
                    expired.append(oldest)
                    return .slot
                }
                return nil
            }
            // Expired connections close as `expired` goes away, outside the lock.
            if !expired.isEmpty { pthread_cond_broadcast(&condition) }
            switch lease {
            case .reused(let connection):
                guard connection.isClosedByPeer else { return .reused(connection) }
                discard(connection)
            case .slot:
                return .slot
            case nil:
                try waitForSlot(until: deadline, origin: origin)
            }
        }
    }

    /// Takes back a connection whose response ended cleanly and may carry another request.
    /// When the origin already keeps `maxIdle` idle connections its slot is freed instead, and
    /// the connection closes when the caller drops it.
    func release(_ connection: UpstreamConnection) {
        connection.idleSince = monotonicNanoseconds()
        connection.hasBeenReused = true
        locked {
            if origins[connection.origin, default: OriginState()].idle.count < limits.maxIdle {
                origins[connection.origin, default: OriginState()].idle.append(connection)
            } else {
                origins[connection.origin, default: OriginState()].open -= 1
            }
        }
        pthread_cond_broadcast(&condition)
    }

    /// Frees the slot of a connection that must not be reused; it closes when the caller
    /// drops it.
    func discard(_ connection: UpstreamConnection) {
        cancel(connection.origin)
    }

    /// Frees a slot whose connection could not be opened.
    func cancel(_ origin: UpstreamOrigin) {
        locked { origins[origin, default: OriginState()].open -= 1 }
        pthread_cond_broadcast(&condition)
    }

    /// Idle and open connections to `origin`, for tests and metrics.
    func counts(for origin: UpstreamOrigin) -> (idle: Int, open: Int) {
        locked { (origins[origin]?.idle.count ?? 0, origins[origin]?.open ?? 0) }
    }

    private func waitForSlot(until deadline: IODeadline, origin: UpstreamOrigin) throws(UpstreamConnectionFailure) {
        var time = timespec(tv_sec: Int(deadline.nanoseconds / 1_000_000_000), tv_nsec: Int(deadline.nanoseconds % 1_000_000_000))
        pthread_mutex_lock(&mutex)
        let full = (origins[origin]?.open ?? 0) >= limits.maxOpen && (origins[origin]?.idle.isEmpty ?? true)
        let result = full ? pthread_cond_timedwait(&condition, &mutex, &time) : 0
        pthread_mutex_unlock(&mutex)
        if result == ETIMEDOUT {
            throw UpstreamConnectionFailure(.timedOut, "waiting for one of the \(limits.maxOpen) connections to \(origin)")
        }
    }

    private func locked<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
