import Glibc

extension BlobStore {
    /// Recomputes the size cap from `statvfs` and evicts when usage plus `incoming` passes it.
    /// Called periodically, and before a write whose size is known. When `incoming` cannot fit
    /// even in an empty store, nothing is evicted for it and the decision says it does not fit.
    @discardableResult
    func refreshCapacity(incoming: UInt64) -> CapacityDecision {
        let space: FilesystemSpace
        do {
            space = try FilesystemSpace.of(directory: root.rawValue)
        } catch {
            // Without statvfs only max_size can be enforced; keep the last cap.
            return state.withLock { state in
                CapacityDecision(effectiveCap: state.effectiveCap, evictTo: nil, fits: true)
            }
        }
        let (decision, target) = state.withLock { state in
            let decision = options.capacity.decide(usage: state.usage, space: space, incoming: incoming)
            state.effectiveCap = decision.effectiveCap
            // A write that cannot fit is refused; it must not empty the store on its way out.
            let target = decision.fits
                ? decision.evictTo
                : options.capacity.decide(usage: state.usage, space: space, incoming: 0).evictTo
            return (decision, target)
        }
        if let target { evict(untilUsageAtMost: target) }
        return decision
    }

    /// Evicts least recently used blobs until usage is at most `target` or nothing is left.
    /// Returns the bytes evicted.
    @discardableResult
    func evict(untilUsageAtMost target: UInt64) -> UInt64 {
        var freed: UInt64 = 0
        while let victim = state.withLock({ state -> (Digest, UInt64)? in
            guard state.usage > target, let coldest = state.index.coldest() else { return nil }
            state.index.remove(coldest.digest)
            state.log(.remove, coldest.digest, size: 0)
            state.evictions += 1
            return (coldest.digest, coldest.size)
        }) {
            unlinkBlob(victim.0)
            freed += victim.1
        }
        return freed
    }

    /// After ENOSPC: evicts at least `needed` bytes (and at least the minimum reclaim) of the
    /// coldest blobs. Returns whether anything was freed, i.e. whether a retry can help.
    func evictAfterOutOfSpace(needed: UInt64) -> Bool {
        let total = (try? FilesystemSpace.of(directory: root.rawValue))?.totalBytes ?? 0
        let reclaim = max(needed, options.capacity.minReclaim.resolve(totalBytes: total))
        let usage = state.withLock { $0.index.totalBytes }
        let freed = evict(untilUsageAtMost: usage > reclaim ? usage - reclaim : 0)
        if freed > 0 {
            // The cap must follow, or the next write would hit the same wall.
            refreshCapacity(incoming: 0)
        }
        return freed > 0
    }
}
