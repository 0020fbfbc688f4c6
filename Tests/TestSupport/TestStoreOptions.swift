import BlobStore

/// Store options for tests: no background thread surprises (no background reconcile, no
/// capacity refresh), no size cap in the way, and a modest index.
public func testOptions(_ configure: (inout BlobStoreOptions) -> Void = { _ in }) -> BlobStoreOptions {
    var options = BlobStoreOptions()
    options.reconcileInBackground = false
    options.capacityRefreshSeconds = 3600
    options.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(0))
    options.maxEntries = 100_000
    configure(&options)
    return options
}
