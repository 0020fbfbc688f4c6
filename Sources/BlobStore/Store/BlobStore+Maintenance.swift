import CBlobSys
import Glibc

extension BlobStore {
    /// The maintenance thread's loop. Holds the store only during a round, so dropping the
    /// last reference elsewhere ends the loop.
    static func runMaintenance(of reference: WeakStoreReference, sleeper: WakeableSleeper) {
        if let first = reference.store, first.options.reconcileInBackground {
            _ = try? first.reconcile()
        }
        while true {
            guard let current = reference.store else { return }
            let interval = current.options.capacityRefreshSeconds
            current.maintenanceRound()
            _ = consume current
            guard sleeper.sleep(seconds: interval) else { return }
        }
    }

    /// One round: the size cap, the page-cache budget, and the journal's length.
    func maintenanceRound() {
        refreshCapacity(incoming: 0)
        trimPageCache()
        let snapshotDue = state.withLock { state in
            state.journalDamaged || state.journal.recordCount >= options.journalRecordsBeforeSnapshot
        }
        if snapshotDue { try? writeSnapshot() }
    }

    /// Drops the pages of the coldest resident blobs until the estimate is below 90% of the
    /// budget (the margin keeps this from running on every request). One trim at a time: the
    /// estimate is cleared before the pages are dropped, so a second trimmer must wait for the
    /// first to finish rather than return while pages are still resident.
    func trimPageCache() {
        pageCacheTrim.withLock { _ in trimPageCacheSerialized() }
    }

    private func trimPageCacheSerialized() {
        let budget = options.resolvedPageCacheBudget
        // Pages the kernel kept because they were in use (sendfile leaves the pages it sent on
        // the socket until the client reads them). Counted again only after this trim, which
        // would otherwise retry them at once; the next trim drops them first.
        var kept: [(digest: Digest, bytes: UInt64)] = []
        while true {
            let victims: [Digest] = state.withLock { state in
                guard state.index.residentBytes > budget else { return [] }
                let target = budget / 10 * 9
                var victims: [Digest] = []
                while state.index.residentBytes > target, victims.count < 64,
                      let coldest = state.index.coldestResident() {
                    state.index.clearResident(coldest)
                    victims.append(coldest)
                }
                return victims
            }
            if victims.isEmpty { break }
            for digest in victims {
                let stayed = dropPages(of: digest)
                if stayed > 0 { kept.append((digest, stayed)) }
            }
        }
        if kept.isEmpty { return }
        state.withLock { state in
            for leftover in kept { state.index.noteStillResident(leftover.digest, bytes: leftover.bytes) }
        }
    }

    /// Asks the kernel to drop the cached pages of one blob; returns the bytes it kept.
    func dropPages(of digest: Digest) -> UInt64 {
        let raw = StoreLayout.withPath(of: digest) { path in
            cbs_openat(root.rawValue, path, O_RDONLY | cbs_O_CLOEXEC | cbs_O_NOFOLLOW, 0)
        }
        guard raw >= 0 else { return 0 }
        let file = FileDescriptor(owning: raw)
        file.dropCachedPages()
        guard let size = try? file.size(), size > 0 else { return 0 }
        let pages = cbs_cached_pages(file.rawValue, size)
        return pages > 0 ? UInt64(pages) * IndexEntry.pageSize : 0
    }
}

/// How the maintenance thread refers to its store: weakly, so the store can go away.
final class WeakStoreReference: Sendable {
    // `weak let` keeps this Sendable: the reference never changes except to nil.
    weak let store: BlobStore?

    init(_ store: BlobStore) { self.store = store }
}
