/// The store's in-memory index of blobs: digest → size, in least-recently-used order, with a
/// cap on entries and a fixed cost per entry.
///
/// Not thread-safe: the store holds its lock around every call, and for the whole of a
/// `forEachColdestFirst` walk.
///
/// - At the cap, inserting a new digest evicts the least recently used entry (like nginx's
///   `keys_zone`) and returns it. The index has forgotten it; the caller unlinks its file.
/// - Each entry also carries an estimate of its pages in the page cache, on a list ordered by
///   when the blob was last served, so the store can drop the coldest pages first. Blobs
///   requested again soon after their previous request are hot and have a list of their own,
///   dropped only after every other: a scan of many blobs read once passes by them.
/// - Each entry carries a mark for reconciliation with the data directory.
///
/// Memory: one buffer of `capacity` 64-byte entries and a hash table of at least 2×capacity
/// 4-byte buckets, both allocated in `init` and touched only as entries arrive (untouched
/// pages cost no RSS). A sha512 entry adds its last 32 hash bytes in a side table. Lookup,
/// touch, insert and remove are O(1) and, for sha256, allocate nothing.
package final class BlobIndex {
    /// Where a new entry goes in the recency order.
    package enum InsertPosition: Sendable {
        /// Most recently used: a blob just written or served.
        case hottest
        /// Least recently used, first to be evicted: e.g. a blob found on disk at start-up
        /// whose last use is unknown.
        case coldest
    }

    /// The most entries the index holds.
    package let capacity: Int

    // Mutable state is `@exclusivity(unchecked)`: the index has one owner at a time (the
    // store's lock) and never calls out while mutating, so the dynamic exclusivity checks
    // would only cost time (about a quarter of each operation when measured).

    /// Live entries.
    @exclusivity(unchecked) package private(set) var count = 0
    /// The sum of the sizes of all entries.
    @exclusivity(unchecked) package private(set) var totalBytes: UInt64 = 0
    /// Sum of the entries' estimated resident pages, in pages.
    @exclusivity(unchecked) private var residentPageCount: UInt64 = 0

    private let entries: UnsafeMutablePointer<IndexEntry>
    /// Slots at or above this were never used, so their memory is still untouched.
    @exclusivity(unchecked) private var highWater: UInt32 = 0
    /// Freed slots, chained through `lruNext`; reused before `highWater` grows.
    @exclusivity(unchecked) private var freeHead = IndexEntry.noLink
    /// Digest → slot.
    @exclusivity(unchecked) private var table: DigestTable
    /// The last 32 hash bytes of each sha512 entry, by slot.
    @exclusivity(unchecked) private var tails: [UInt32: HashWords] = [:]
    /// Every live entry, coldest (next to evict) first.
    @exclusivity(unchecked) private var recency = EntryList<RecencyLinks>()
    /// Entries with resident pages that are not hot, least recently served first.
    @exclusivity(unchecked) private var residentCold = EntryList<ResidentLinks>()
    /// Hot entries with resident pages, least recently served first.
    @exclusivity(unchecked) private var residentHot = EntryList<ResidentLinks>()
    /// Pages served since the index was made: the clock of request stamps.
    @exclusivity(unchecked) private var servedPages: UInt64 = 0
    /// Bumped by every change to `recency`, so a walk notices a body that mutates the index.
    @exclusivity(unchecked) private var recencyVersion = 0

    /// An empty index for at most `capacity` entries. Reserves, but does not touch, the
    /// memory for all of them.
    package init(capacity: Int) {
        precondition(capacity > 0 && capacity <= 1 << 31, "BlobIndex: capacity must be in 1...2^31")
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
        table = DigestTable(minimumBuckets: 2 * capacity)
    }

    deinit { entries.deallocate() }

    /// Whether the next insert of a new digest evicts an entry.
    package var isFull: Bool { count == capacity }

    /// The estimated page-cache bytes of all entries (whole 4 KiB pages).
    package var residentBytes: UInt64 { residentPageCount * IndexEntry.pageSize }

    /// An upper bound of `bytesPerEntry` for any capacity, to size the index from a memory
    /// budget before creating it: the entry plus at most four buckets (the bucket count is
    /// the power of two at or above 2×capacity). sha512 entries add their tail table.
    package static let estimatedBytesPerEntry = MemoryLayout<IndexEntry>.stride + 4 * MemoryLayout<UInt32>.stride

    /// Memory per entry at capacity: the entry plus its share of the hash table, rounded up.
    /// sha512 entries cost more (their tail table).
    package var bytesPerEntry: Int {
        let bucketBytes = table.bucketCount * MemoryLayout<UInt32>.stride
        return MemoryLayout<IndexEntry>.stride + (bucketBytes + capacity - 1) / capacity
    }

    // MARK: Lookup and recency

    /// The size of `digest`, without changing its recency.
    package func lookup(_ digest: Digest) -> UInt64? {
        guard let found = find(IndexKey(digest)) else { return nil }
        return entries[Int(found.slot)].size
    }

    /// The size of `digest`, which becomes the most recently used entry.
    package func touch(_ digest: Digest) -> UInt64? {
        guard let found = find(IndexKey(digest)) else { return nil }
        recency.moveToHottest(found.slot, in: entries)
        recencyVersion &+= 1
        return entries[Int(found.slot)].size
    }

    /// Adds `digest` with `size`, or updates the size of an entry already present (which
    /// then moves to the hottest end for `.hottest`, and stays where it is for `.coldest`).
    ///
    /// A new digest in a full index first evicts the coldest entry, never the new one; the
    /// result carries the victim, whose file the caller must unlink. Inserting marks the entry
    /// (see `clearMarks`): the store inserts only blobs whose file exists.
    @discardableResult
    package func insert(_ digest: Digest, size: UInt64, at position: InsertPosition = .hottest) -> IndexInsertResult {
        let key = IndexKey(digest)
        if let found = find(key) {
            let entry = entries + Int(found.slot)
            let previous = entry.pointee.size
            totalBytes = totalBytes - previous + size
            entry.pointee.size = size
            entry.pointee.isMarked = true
            capResidentPages(found.slot)
            if position == .hottest {
                recency.moveToHottest(found.slot, in: entries)
                recencyVersion &+= 1
            }
            return IndexInsertResult(previousSize: previous, evicted: nil)
        }
        let evicted = isFull ? evictColdest() : nil
        let slot = takeFreeSlot()
        (entries + Int(slot)).initialize(to: IndexEntry(head: key.head, algorithm: digest.algorithm, size: size))
        if let tail = key.tail { tails[slot] = tail }
        table.insert(slot: slot, key: key.head.w0)
        switch position {
        case .hottest: recency.pushHottest(slot, in: entries)
        case .coldest: recency.pushColdest(slot, in: entries)
        }
        recencyVersion &+= 1
        count += 1
        totalBytes += size
        return IndexInsertResult(previousSize: nil, evicted: evicted)
    }

    /// Forgets `digest`; returns its size, or nil if it was absent.
    @discardableResult
    package func remove(_ digest: Digest) -> UInt64? {
        guard let found = find(IndexKey(digest)) else { return nil }
        let size = entries[Int(found.slot)].size
        removeSlot(found.slot, atBucket: found.bucket)
        return size
    }

    /// Forgets every entry, keeping the capacity. The hash table is allocated afresh, so its
    /// touched pages go back to the system; entry slots are reused from the first.
    package func removeAll() {
        table = DigestTable(minimumBuckets: table.bucketCount)
        tails = [:]
        recency = EntryList()
        residentCold = EntryList()
        residentHot = EntryList()
        recencyVersion &+= 1
        highWater = 0
        freeHead = IndexEntry.noLink
        count = 0
        totalBytes = 0
        residentPageCount = 0
    }

    /// The least recently used entry: the next to be evicted.
    package func coldest() -> (digest: Digest, size: UInt64)? {
        let slot = recency.coldest
        guard slot != IndexEntry.noLink else { return nil }
        return (digest(atSlot: slot), entries[Int(slot)].size)
    }

    /// Calls `body` with every entry, coldest first, without copying the list, and stops at
    /// the first error `body` throws. `body` must not insert, remove or touch (checked: it traps).
    package func forEachColdestFirst<Failure: Error>(_ body: (Digest, UInt64) throws(Failure) -> Void) throws(Failure) {
        let version = recencyVersion
        var slot = recency.coldest
        while slot != IndexEntry.noLink {
            try body(digest(atSlot: slot), entries[Int(slot)].size)
            precondition(recencyVersion == version, "BlobIndex: forEachColdestFirst's body changed the index")
            slot = recency.hotter(than: slot, in: entries)
        }
    }

    // MARK: Paginated listing

    /// The `limit` smallest digests (by `Digest`'s order) strictly greater than `after`, in
    /// ascending order, of `algorithm` only when given. One pass over the entries in
    /// O(count × log limit) time; holds only `limit` digests, never the whole index.
    package func smallestDigests(after: Digest?, limit: Int, algorithm: DigestAlgorithm?) -> [Digest] {
        precondition(limit >= 0, "BlobIndex: negative listing limit")
        guard limit > 0 else { return [] }
        var heap = BoundedMaxHeap<Digest>(limit: limit, expected: count)
        let wanted = algorithm.map { UInt32($0.rawValue) }
        for slot in 0..<highWater {
            let byte = entries[Int(slot)].algorithmByte
            guard byte != 0, wanted == nil || byte == wanted else { continue }
            let digest = digest(atSlot: slot)
            if let after, !(after < digest) { continue }
            heap.offer(digest)
        }
        return heap.ascending()
    }

    // MARK: Page-cache residency

    /// Records that `bytes` of `digest` were just read into the page cache (served): adds
    /// them, in whole pages, to its estimate, which never exceeds the blob's size in pages,
    /// and makes it the most recently served. Does nothing for an absent digest.
    package func noteResident(_ digest: Digest, bytes: UInt64) {
        guard let found = find(IndexKey(digest)) else { return }
        let entry = entries + Int(found.slot)
        let old = entry.pointee.residentPages
        servedPages &+= UInt64(IndexEntry.pages(covering: bytes))
        let added = UInt64(old) + UInt64(IndexEntry.pages(covering: bytes))
        let new = UInt32(min(added, UInt64(entry.pointee.pageLimit)))
        guard new > 0 else { return }
        residentPageCount += UInt64(new - old)
        entry.pointee.residentPages = new
        withResidentList(of: found.slot) { list in
            if old == 0 { list.pushHottest(found.slot, in: entries) } else { list.moveToHottest(found.slot, in: entries) }
        }
    }

    /// Records that a response with `digest`'s bytes starts. The blob is hot when its previous
    /// request was at most `hotWithinPages` pages served ago (so never on its first), and stays
    /// so until its next request. Does nothing for an absent digest.
    package func noteRequested(_ digest: Digest, hotWithinPages window: UInt64) {
        guard let found = find(IndexKey(digest)) else { return }
        let entry = entries + Int(found.slot)
        let now = IndexEntry.stamp(ofClock: servedPages)
        let previous = entry.pointee.requestStamp
        let distance = UInt64((now &- previous) & IndexEntry.stampMask) * IndexEntry.stampPages
        // Beyond half a turn of the stamp, an old request could pass for a recent one.
        let hot = previous != 0 && distance <= min(window, UInt64(IndexEntry.stampMask / 2) * IndexEntry.stampPages)
        entry.pointee.requestStamp = now
        guard hot != entry.pointee.isHot else { return }
        let resident = entry.pointee.residentPages > 0
        if resident { withResidentList(of: found.slot) { $0.unlink(found.slot, in: entries) } }
        entry.pointee.isHot = hot
        if resident { withResidentList(of: found.slot) { $0.pushHottest(found.slot, in: entries) } }
    }

    /// Records that `bytes` of `digest` stayed in the page cache when its pages were dropped
    /// (pages in use, such as those still queued on a socket): counts them again, as the
    /// coldest, so the next trim tries them first. An entry served again since keeps its newer
    /// estimate. Does nothing for an absent digest.
    package func noteStillResident(_ digest: Digest, bytes: UInt64) {
        guard let found = find(IndexKey(digest)) else { return }
        let entry = entries + Int(found.slot)
        let pages = min(IndexEntry.pages(covering: bytes), entry.pointee.pageLimit)
        guard entry.pointee.residentPages == 0, pages > 0 else { return }
        residentPageCount += UInt64(pages)
        entry.pointee.residentPages = pages
        withResidentList(of: found.slot) { $0.pushColdest(found.slot, in: entries) }
    }

    /// The first entry whose pages to drop: the one served longest ago among those that are not
    /// hot, or when every resident entry is hot, among those.
    package func coldestResident() -> Digest? {
        let slot = residentCold.coldest != IndexEntry.noLink ? residentCold.coldest : residentHot.coldest
        return slot == IndexEntry.noLink ? nil : digest(atSlot: slot)
    }

    /// Records that `digest` has no pages in the page cache any more (they were dropped).
    package func clearResident(_ digest: Digest) {
        guard let found = find(IndexKey(digest)) else { return }
        dropResidentPages(found.slot)
    }

    // MARK: Reconciliation marks

    /// Unmarks every entry, to start a pass that marks the digests found on disk. Entries
    /// inserted during the pass are marked by `insert`, so they never look missing.
    package func clearMarks() {
        for slot in 0..<Int(highWater) where entries[slot].isLive {
            entries[slot].isMarked = false
        }
    }

    /// Marks `digest` as seen on disk; false if it is not in the index.
    package func mark(_ digest: Digest) -> Bool {
        guard let found = find(IndexKey(digest)) else { return false }
        entries[Int(found.slot)].isMarked = true
        return true
    }

    /// Up to `limit` unmarked digests (entries without a file), coldest first.
    package func unmarkedDigests(limit: Int) -> [Digest] {
        var digests: [Digest] = []
        var slot = recency.coldest
        while slot != IndexEntry.noLink, digests.count < limit {
            if !entries[Int(slot)].isMarked { digests.append(digest(atSlot: slot)) }
            slot = recency.hotter(than: slot, in: entries)
        }
        return digests
    }

    // MARK: Slots

    /// The digest of the live entry in `slot`.
    func digest(atSlot slot: UInt32) -> Digest {
        precondition(slot < highWater && entries[Int(slot)].isLive, "BlobIndex: slot \(slot) is not live")
        let entry = entries[Int(slot)]
        let algorithm = entry.algorithm
        return Digest(algorithm: algorithm, head: entry.head, tail: algorithm == .sha512 ? tails[slot] : nil)
    }

    /// The slot of `key`'s entry and the bucket that points at it.
    @inline(__always)
    private func find(_ key: IndexKey) -> (bucket: Int, slot: UInt32)? {
        table.find(key.head.w0) { slot in
            let entry = entries + Int(slot)
            return entry.pointee.head == key.head && entry.pointee.algorithmByte == key.algorithmByte
                && (key.tail == nil || tails[slot] == key.tail)
        }
    }

    @inline(__always)
    private func takeFreeSlot() -> UInt32 {
        if freeHead != IndexEntry.noLink {
            let slot = freeHead
            freeHead = entries[Int(slot)].lruNext
            return slot
        }
        precondition(Int(highWater) < capacity, "BlobIndex: no free slot below capacity")
        highWater += 1
        return highWater - 1
    }

    private func evictColdest() -> EvictedEntry {
        let slot = recency.coldest
        let entry = entries[Int(slot)]
        let victim = EvictedEntry(digest: digest(atSlot: slot), size: entry.size)
        removeSlot(slot, atBucket: table.bucket(ofSlot: slot, key: entry.head.w0))
        return victim
    }

    /// Unlinks `slot` from the table (at `bucket`) and both lists, and frees it.
    @inline(__always)
    private func removeSlot(_ slot: UInt32, atBucket bucket: Int) {
        let entries = self.entries
        table.remove(atBucket: bucket) { entries[Int($0)].head.w0 }
        recency.unlink(slot, in: entries)
        recencyVersion &+= 1
        dropResidentPages(slot)
        let entry = entries + Int(slot)
        if entry.pointee.algorithm == .sha512 { tails.removeValue(forKey: slot) }
        count -= 1
        totalBytes -= entry.pointee.size
        entry.pointee.flags = 0
        entry.pointee.lruNext = freeHead
        freeHead = slot
    }

    /// Sets `slot`'s resident pages to 0 and takes it off its resident list.
    @inline(__always)
    private func dropResidentPages(_ slot: UInt32) {
        let entry = entries + Int(slot)
        guard entry.pointee.residentPages > 0 else { return }
        residentPageCount -= UInt64(entry.pointee.residentPages)
        entry.pointee.residentPages = 0
        withResidentList(of: slot) { $0.unlink(slot, in: entries) }
    }

    /// Runs `body` on the resident list that `slot` belongs on: hot or not.
    @inline(__always)
    private func withResidentList(of slot: UInt32, _ body: (inout EntryList<ResidentLinks>) -> Void) {
        if entries[Int(slot)].isHot { body(&residentHot) } else { body(&residentCold) }
    }

    /// Lowers `slot`'s resident pages to what its (new) size can hold.
    private func capResidentPages(_ slot: UInt32) {
        let entry = entries + Int(slot)
        let limit = entry.pointee.pageLimit
        guard entry.pointee.residentPages > limit else { return }
        if limit == 0 { return dropResidentPages(slot) }
        residentPageCount -= UInt64(entry.pointee.residentPages - limit)
        entry.pointee.residentPages = limit
    }
}

/// A digest as the index compares it, built once per call on the stack.
private struct IndexKey {
    let head: HashWords
    let algorithmByte: UInt32
    /// The last 32 hash bytes of a sha512; nil for sha256.
    let tail: HashWords?

    @inline(__always)
    init(_ digest: Digest) {
        head = HashWords(head: digest)
        algorithmByte = UInt32(digest.algorithm.rawValue)
        tail = digest.algorithm == .sha512 ? HashWords(tail: digest) : nil
    }
}
