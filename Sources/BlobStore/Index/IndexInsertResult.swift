/// A blob the index dropped to make room. The index has already forgotten it; the caller
/// must unlink its file.
package struct EvictedEntry: Equatable, Sendable {
    package let digest: Digest
    package let size: UInt64

    package init(digest: Digest, size: UInt64) {
        self.digest = digest
        self.size = size
    }
}

/// What `BlobIndex.insert` did.
package struct IndexInsertResult: Equatable, Sendable {
    /// The size the digest had before the insert; nil if it was new.
    package let previousSize: UInt64?
    /// The coldest entry dropped because the index was full. Only a new digest evicts.
    package let evicted: EvictedEntry?

    package init(previousSize: UInt64?, evicted: EvictedEntry?) {
        self.previousSize = previousSize
        self.evicted = evicted
    }

    /// Whether the digest was not in the index before.
    package var isNew: Bool { previousSize == nil }
}
