/// How a `BlobStore` sizes itself. Every field has a default that suits a 128 MiB node agent.
public struct BlobStoreOptions: Sendable {
    /// When to evict for disk space: `max_size`, `min_free`, minimum reclaim.
    public var capacity: CapacityPolicy = CapacityPolicy()
    /// The process budget; the store uses its index and page-cache shares.
    public var memoryBudget: MemoryBudget = MemoryBudget.resolve(configured: nil, cgroupLimit: CgroupMemoryLimit.current())
    /// Overrides the entry cap derived from `memoryBudget.indexBytes`.
    public var maxEntries: Int? = nil
    /// Overrides `memoryBudget.pageCacheBytes`: the page cache of store files left resident.
    public var pageCacheBudget: UInt64? = nil
    /// How often the maintenance thread recomputes the size cap from `statvfs`, in seconds.
    public var capacityRefreshSeconds: Double = 10
    /// Run reconciliation with the directory on a background thread after opening (the
    /// store is usable at once). When false, call `reconcile()` yourself.
    public var reconcileInBackground: Bool = true
    /// The journal is folded into a new snapshot once it holds this many records.
    public var journalRecordsBeforeSnapshot: Int = 262_144
    /// Start writeback every this many bytes while a blob streams in, and drop the pages
    /// behind it, so a large ingest neither piles up dirty pages nor fills the page cache.
    public var writebackChunkBytes: UInt64 = 8 << 20
    /// Use named temporary files in `tmp/` even where O_TMPFILE works (tests the fallback).
    public var forceNamedTemporaries: Bool = false

    public init() {}

    /// The index's entry cap: `maxEntries`, or what the index share of the budget buys.
    public var resolvedMaxEntries: Int {
        maxEntries ?? memoryBudget.indexEntryCap(bytesPerEntry: BlobIndex.estimatedBytesPerEntry)
    }

    /// The resident page-cache budget for store files.
    public var resolvedPageCacheBudget: UInt64 {
        pageCacheBudget ?? memoryBudget.pageCacheBytes
    }
}
