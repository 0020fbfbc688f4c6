/// A point-in-time view of the store, for `/metrics` and operators.
public struct StoreStats: Sendable, Equatable {
    /// Bytes of committed blobs.
    public var bytes: UInt64
    /// Committed blobs in the index.
    public var blobs: Int
    /// The size cap in force: `max_size`, lowered to keep `min_free` free on the filesystem.
    public var effectiveCap: UInt64
    /// Blobs evicted since the store was opened (size cap, entry cap, or disk full).
    public var evictions: UInt64
    /// Bytes the index may take at its entry cap, and the cap.
    public var indexBytes: UInt64
    public var indexCapacity: Int
    /// Estimated page cache held by store files, and its budget.
    public var residentBytesEstimate: UInt64
    public var pageCacheBudget: UInt64
    /// Blobs that failed a re-hash and were moved aside, since opening.
    public var quarantined: UInt64
    /// Bytes being written by writers not yet committed.
    public var pendingBytes: UInt64
    /// Whether the background reconciliation with the directory has finished once.
    public var reconciled: Bool
}

/// What a reconciliation with the directory found and fixed.
public struct ReconcileReport: Sendable, Equatable {
    /// Blob files the index lacked, now indexed (at the cold end).
    public var adopted = 0
    /// Index entries whose file was gone, now dropped.
    public var dropped = 0
    /// Stale temporary files deleted.
    public var temporariesRemoved = 0
    /// Files in the blob tree whose names are not digests (left alone).
    public var strayFiles = 0
    /// Blob files examined.
    public var filesSeen = 0
}

/// Progress of a `verify` pass, reported after each blob.
public struct ScrubProgress: Sendable, Equatable {
    public var blobsChecked: Int
    public var bytesChecked: UInt64
    /// Bytes the index held when the pass started: the denominator of a progress bar.
    public var bytesTotal: UInt64
    public var quarantined: Int
}

/// The outcome of a `verify` pass.
public struct ScrubReport: Sendable, Equatable {
    public var blobsChecked = 0
    public var bytesChecked: UInt64 = 0
    /// Digests whose content did not match, moved to `quarantine/` and now misses.
    public var quarantined: [Digest] = []
}
