import Synchronization

/// What the pull-through mirror counts, for `/metrics`: hits and misses by kind, fills and
/// their waiters, digest mismatches and stale tag answers. Upstream traffic (requests by
/// status, bytes, token fetches) is counted by the upstream clients. Thread-safe.
final class MirrorCounters: Sendable {
    enum Kind: String, CaseIterable, Sendable {
        case blob, manifest, tag
    }

    struct Snapshot: Equatable, Sendable {
        var hits: [Kind: UInt64] = [:]
        var misses: [Kind: UInt64] = [:]
        var fillsInFlight: Int64 = 0
        var fillWaiters: Int64 = 0
        var fillsCompleted: UInt64 = 0
        var fillsFailed: UInt64 = 0
        var digestMismatches: UInt64 = 0
        var staleServes: UInt64 = 0
    }

    private let counts = Mutex(Snapshot())

    func hit(_ kind: Kind) { counts.withLock { $0.hits[kind, default: 0] += 1 } }
    func miss(_ kind: Kind) { counts.withLock { $0.misses[kind, default: 0] += 1 } }

    func fillStarted() { counts.withLock { $0.fillsInFlight += 1 } }

    /// A fill ended: `waiters` clients had joined it.
    func fillEnded(succeeded: Bool, waiters: Int) {
        counts.withLock {
            $0.fillsInFlight -= 1
            $0.fillWaiters -= Int64(waiters)
            if succeeded { $0.fillsCompleted += 1 } else { $0.fillsFailed += 1 }
        }
    }

    func waiterJoined() { counts.withLock { $0.fillWaiters += 1 } }
    func digestMismatch() { counts.withLock { $0.digestMismatches += 1 } }
    func staleServe() { counts.withLock { $0.staleServes += 1 } }

    var snapshot: Snapshot { counts.withLock { $0 } }
}
