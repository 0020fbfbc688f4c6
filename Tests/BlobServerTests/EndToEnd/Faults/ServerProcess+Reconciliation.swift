extension ServerProcess {
    /// Waits until the server says its start-up reconciliation has finished
    /// (`blobcache_store_reconciled 1`): stale temporaries are gone and the index matches the
    /// blob files from then on. Throws after `timeoutSeconds`.
    func waitUntilReconciled(timeoutSeconds: Double = 20) throws {
        let deadline = monotonicSeconds() + timeoutSeconds
        while try metric("blobcache_store_reconciled") != 1 {
            guard monotonicSeconds() < deadline else {
                throw EndToEndFailure("blobcache_store_reconciled did not reach 1 within \(timeoutSeconds) s")
            }
            pause(seconds: 0.02)
        }
    }
}
