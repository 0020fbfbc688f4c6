import BlobStore
import Glibc

/// Open descriptors of small, recently served blobs, so serving a hot blob costs no `openat`.
///
/// Only blobs up to `maxBlobBytes` are kept: their bodies are read into memory when a response
/// is built, so no response holds a cached descriptor and eviction can close at once. A blob
/// removed from the store may linger here until `sweep` (its bytes are still correct: they are
/// content-addressed), which bounds the disk space such a descriptor keeps from being freed.
///
/// Owned by one event loop's thread; not thread-safe.
final class DescriptorCache {
    static let maxBlobBytes: UInt64 = 64 << 10

    private struct Entry {
        let descriptor: Int32
        let size: UInt64
        var lastUse: UInt64
    }

    let capacity: Int
    private var entries: [Digest: Entry] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    deinit { for entry in entries.values { close(entry.descriptor) } }

    var count: Int { entries.count }

    /// The cached descriptor and size of `digest`, which the cache keeps owning.
    func lookup(_ digest: Digest) -> (descriptor: Int32, size: UInt64)? {
        clock += 1
        guard let entry = entries[digest] else { return nil }
        entries[digest]!.lastUse = clock
        return (entry.descriptor, entry.size)
    }

    /// Takes ownership of `descriptor` for `digest`. Returns false (and takes nothing) when the
    /// blob is too large to cache or already cached.
    func insert(_ digest: Digest, descriptor: Int32, size: UInt64) -> Bool {
        guard size <= Self.maxBlobBytes, entries[digest] == nil else { return false }
        if entries.count >= capacity, let coldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            close(coldest.value.descriptor)
            entries[coldest.key] = nil
        }
        clock += 1
        entries[digest] = Entry(descriptor: descriptor, size: size, lastUse: clock)
        return true
    }

    /// Closes the descriptors of blobs for which `isGone` holds (removed or evicted).
    func sweep(isGone: (Digest) -> Bool) {
        for (digest, entry) in entries where isGone(digest) {
            close(entry.descriptor)
            entries[digest] = nil
        }
    }
}
