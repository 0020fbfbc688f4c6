import Testing
@testable import BlobStore

/// A real sha256 digest, distinct for each `n`.
private func blob(_ n: Int, _ algorithm: DigestAlgorithm = .sha256) -> Digest {
    StreamingHasher.digest(of: Array("blob \(n)".utf8), using: algorithm)
}

/// A hand-made sha256 digest whose first 8 bytes (its `mixingBits`) are the same for every `n`.
private func colliding(_ n: UInt8) -> Digest {
    Digest(algorithm: .sha256, bytes: [UInt8](repeating: 0xab, count: 8) + [UInt8](repeating: n, count: 24))
}

/// The index's digests from coldest to hottest.
private func order(_ index: BlobIndex) -> [Digest] {
    var digests: [Digest] = []
    index.forEachColdestFirst { digest, _ in digests.append(digest) }
    return digests
}

// MARK: Lookup, touch, insert, remove

@Test func anInsertedDigestIsFoundWithItsSize() {
    let index = BlobIndex(capacity: 8)
    let result = index.insert(blob(1), size: 100)
    #expect(result == IndexInsertResult(previousSize: nil, evicted: nil))
    #expect(result.isNew)
    #expect(index.lookup(blob(1)) == 100)
    #expect(index.touch(blob(1)) == 100)
    #expect(index.lookup(blob(2)) == nil)
    #expect(index.touch(blob(2)) == nil)
    #expect(index.count == 1)
    #expect(index.totalBytes == 100)
    #expect(!index.isFull)
}

@Test func removeForgetsTheEntryAndItsBytes() {
    let index = BlobIndex(capacity: 8)
    index.insert(blob(1), size: 100)
    index.insert(blob(2), size: 20)
    #expect(index.remove(blob(1)) == 100)
    #expect(index.remove(blob(1)) == nil)
    #expect(index.lookup(blob(1)) == nil)
    #expect(index.lookup(blob(2)) == 20)
    #expect(index.count == 1)
    #expect(index.totalBytes == 20)
    #expect(order(index) == [blob(2)])
}

@Test func entriesAreKeptInLeastRecentlyUsedOrder() {
    let index = BlobIndex(capacity: 8)
    for n in 0..<4 { index.insert(blob(n), size: UInt64(n)) }
    #expect(order(index) == [blob(0), blob(1), blob(2), blob(3)])
    #expect(index.coldest()?.digest == blob(0))
    #expect(index.coldest()?.size == 0)

    _ = index.touch(blob(1))
    #expect(order(index) == [blob(0), blob(2), blob(3), blob(1)])
    _ = index.lookup(blob(0))
    #expect(order(index) == [blob(0), blob(2), blob(3), blob(1)], "lookup leaves the order alone")
}

@Test func insertingIntoAFullIndexEvictsTheColdestEntry() {
    let index = BlobIndex(capacity: 3)
    for n in 0..<3 { #expect(index.insert(blob(n), size: 10).evicted == nil) }
    #expect(index.isFull)
    let result = index.insert(blob(3), size: 7)
    #expect(result == IndexInsertResult(previousSize: nil, evicted: EvictedEntry(digest: blob(0), size: 10)))
    #expect(index.lookup(blob(0)) == nil)
    #expect(index.count == 3)
    #expect(index.totalBytes == 27)
    #expect(order(index) == [blob(1), blob(2), blob(3)])
}

@Test func touchProtectsAnEntryFromEviction() {
    let index = BlobIndex(capacity: 3)
    for n in 0..<3 { index.insert(blob(n), size: 1) }
    _ = index.touch(blob(0))
    #expect(index.insert(blob(3), size: 1).evicted?.digest == blob(1))
    #expect(index.lookup(blob(0)) == 1)
}

@Test func insertAtColdestPutsTheEntryFirstInLineForEviction() {
    let index = BlobIndex(capacity: 3)
    index.insert(blob(0), size: 1)
    index.insert(blob(1), size: 1)
    index.insert(blob(2), size: 1, at: .coldest)
    #expect(order(index) == [blob(2), blob(0), blob(1)])
    #expect(index.insert(blob(3), size: 1).evicted?.digest == blob(2))
}

@Test func insertAtColdestIntoAFullIndexEvictsTheOldColdestNotTheNewEntry() {
    let index = BlobIndex(capacity: 2)
    index.insert(blob(0), size: 1)
    index.insert(blob(1), size: 1)
    #expect(index.insert(blob(2), size: 1, at: .coldest).evicted?.digest == blob(0))
    #expect(order(index) == [blob(2), blob(1)])
}

@Test func anIndexOfCapacityOneAlwaysKeepsTheNewestEntry() {
    let index = BlobIndex(capacity: 1)
    for n in 0..<5 {
        let evicted = index.insert(blob(n), size: UInt64(n)).evicted
        #expect(evicted == (n == 0 ? nil : EvictedEntry(digest: blob(n - 1), size: UInt64(n - 1))))
        #expect(order(index) == [blob(n)])
    }
}

@Test func reinsertingUpdatesTheSizeAndTotalBytesWithoutEvicting() {
    let index = BlobIndex(capacity: 2)
    index.insert(blob(0), size: 10)
    index.insert(blob(1), size: 20)
    let result = index.insert(blob(0), size: 15)
    #expect(result == IndexInsertResult(previousSize: 10, evicted: nil))
    #expect(!result.isNew)
    #expect(index.lookup(blob(0)) == 15)
    #expect(index.totalBytes == 35)
    #expect(index.count == 2)
    #expect(order(index) == [blob(1), blob(0)], "a .hottest re-insert moves the entry to the hot end")
}

@Test func reinsertingAtColdestKeepsTheEntrysPlace() {
    let index = BlobIndex(capacity: 4)
    for n in 0..<3 { index.insert(blob(n), size: 1) }
    index.insert(blob(1), size: 5, at: .coldest)
    #expect(order(index) == [blob(0), blob(1), blob(2)])
    #expect(index.totalBytes == 7)
}

@Test func removeAllEmptiesTheIndexAndLeavesItUsable() {
    let index = BlobIndex(capacity: 4)
    for n in 0..<4 {
        index.insert(blob(n, .sha512), size: 4096)
        index.noteResident(blob(n, .sha512), bytes: 4096)
    }
    index.removeAll()
    #expect(index.count == 0 && index.totalBytes == 0 && index.residentBytes == 0)
    #expect(index.coldest() == nil && index.coldestResident() == nil)
    #expect(index.lookup(blob(0, .sha512)) == nil)
    #expect(order(index).isEmpty)
    for n in 4..<8 { #expect(index.insert(blob(n), size: 1).evicted == nil) }
    #expect(order(index) == (4..<8).map { blob($0) })
}

// MARK: Digests that share bits

@Test func sha512DigestsThatShareTheirFirstHalfAreDistinct() {
    let head = [UInt8](repeating: 7, count: 32)
    let first = Digest(algorithm: .sha512, bytes: head + [UInt8](repeating: 1, count: 32))
    let second = Digest(algorithm: .sha512, bytes: head + [UInt8](repeating: 2, count: 32))
    let shortCousin = Digest(algorithm: .sha256, bytes: head)
    let index = BlobIndex(capacity: 4)
    index.insert(first, size: 1)
    index.insert(second, size: 2)
    #expect(index.lookup(first) == 1)
    #expect(index.lookup(second) == 2)
    #expect(index.lookup(shortCousin) == nil)
    #expect(order(index) == [first, second])
    #expect(index.remove(first) == 1)
    #expect(index.lookup(second) == 2)
    #expect(index.coldest()?.digest == second)
}

@Test func digestsWithEqualMixingBitsStillWorkThroughRemovals() {
    let index = BlobIndex(capacity: 16)
    for n in 0..<16 { index.insert(colliding(UInt8(n)), size: UInt64(n)) }
    #expect(index.count == 16)
    // Removing from the front and the middle of the probe run shifts later members back.
    for n in [0, 7, 3, 15] { #expect(index.remove(colliding(UInt8(n))) == UInt64(n)) }
    for n in 0..<16 {
        let expected: UInt64? = [0, 7, 3, 15].contains(n) ? nil : UInt64(n)
        #expect(index.lookup(colliding(UInt8(n))) == expected)
    }
    for n in [0, 7] { index.insert(colliding(UInt8(n)), size: 100) }
    #expect(index.lookup(colliding(0)) == 100)
    #expect(index.lookup(colliding(7)) == 100)
    #expect(index.count == 14)
}

@Test func realAndCollidingDigestsMixInOneTable() {
    let index = BlobIndex(capacity: 64)
    for n in 0..<32 {
        index.insert(blob(n), size: 1)
        index.insert(colliding(UInt8(n)), size: 2)
    }
    for n in stride(from: 0, to: 32, by: 2) {
        index.remove(colliding(UInt8(n)))
        index.remove(blob(n + 1))
    }
    for n in 0..<32 {
        #expect(index.lookup(blob(n)) == (n % 2 == 0 ? 1 : nil))
        #expect(index.lookup(colliding(UInt8(n))) == (n % 2 == 1 ? 2 : nil))
    }
}

// MARK: Resident page cache

@Test func residentBytesCountWholePagesCappedAtTheBlobSize() {
    let index = BlobIndex(capacity: 4)
    index.insert(blob(0), size: 10_000)  // 3 pages
    index.noteResident(blob(0), bytes: 1)
    #expect(index.residentBytes == 4096)
    index.noteResident(blob(0), bytes: 4097)
    #expect(index.residentBytes == 3 * 4096)
    index.noteResident(blob(0), bytes: 1 << 30)
    #expect(index.residentBytes == 3 * 4096, "never more than the blob's own pages")
    index.noteResident(blob(9), bytes: 4096)
    #expect(index.residentBytes == 3 * 4096, "an absent digest is ignored")
    index.insert(blob(1), size: 0)
    index.noteResident(blob(1), bytes: 4096)
    #expect(index.residentBytes == 3 * 4096, "an empty blob has no pages")
    #expect(index.coldestResident() == blob(0))
}

@Test func theResidentListIsOrderedByLastServed() {
    let index = BlobIndex(capacity: 4)
    for n in 0..<3 { index.insert(blob(n), size: 1 << 20) }
    index.noteResident(blob(2), bytes: 4096)
    index.noteResident(blob(0), bytes: 4096)
    index.noteResident(blob(1), bytes: 4096)
    #expect(index.coldestResident() == blob(2))
    index.noteResident(blob(2), bytes: 0)
    #expect(index.coldestResident() == blob(0), "serving again makes it the hottest")
    index.clearResident(blob(0))
    #expect(index.coldestResident() == blob(1))
    #expect(index.residentBytes == 2 * 4096)
    index.clearResident(blob(1))
    index.clearResident(blob(2))
    #expect(index.coldestResident() == nil)
    #expect(index.residentBytes == 0)
}

@Test func pagesThatStayedAfterADropAreCountedAsTheColdest() {
    let index = BlobIndex(capacity: 4)
    for n in 0..<3 { index.insert(blob(n), size: 3 * 4096) }
    index.noteResident(blob(0), bytes: 4096)
    index.noteResident(blob(1), bytes: 4096)
    index.clearResident(blob(2))
    index.noteStillResident(blob(2), bytes: 1 << 30)
    #expect(index.coldestResident() == blob(2), "tried first by the next trim")
    #expect(index.residentBytes == 5 * 4096, "never more than the blob's own pages")
    index.noteStillResident(blob(0), bytes: 3 * 4096)
    #expect(index.residentBytes == 5 * 4096, "an entry served since keeps its estimate")
    index.noteStillResident(blob(9), bytes: 4096)
    index.noteStillResident(blob(1), bytes: 0)
    #expect(index.residentBytes == 5 * 4096, "nothing for an absent digest or no bytes")
}

@Test func aBlobRequestedAgainSoonIsHotAndItsPagesGoLast() {
    let index = BlobIndex(capacity: 4)
    for n in 0..<3 { index.insert(blob(n), size: 1 << 20) }
    let window: UInt64 = 500  // pages
    index.noteRequested(blob(0), hotWithinPages: window)
    index.noteResident(blob(0), bytes: 4096)
    index.noteRequested(blob(1), hotWithinPages: window)
    index.noteResident(blob(1), bytes: 4096)
    #expect(index.coldestResident() == blob(0), "a first request is not hot: plain least recently served")
    index.noteRequested(blob(0), hotWithinPages: window)
    index.noteResident(blob(0), bytes: 4096)
    index.noteRequested(blob(2), hotWithinPages: window)
    index.noteResident(blob(2), bytes: 4096)
    #expect(index.coldestResident() == blob(1), "the hot blob goes after every other")
    index.clearResident(blob(1))
    #expect(index.coldestResident() == blob(2))
    index.clearResident(blob(2))
    #expect(index.coldestResident() == blob(0), "and when only hot ones are left, they go too")

    // 4 MiB served since its last request: 1024 pages, beyond the window.
    for _ in 0..<2 { for n in 1...2 { index.noteResident(blob(n), bytes: 1 << 20) } }
    index.noteRequested(blob(0), hotWithinPages: window)
    index.noteResident(blob(1), bytes: 4096)
    index.clearResident(blob(2))
    #expect(index.coldestResident() == blob(0), "requested again only after a long while, it is not hot")
    #expect(index.residentBytes == 2 * 4096 + (1 << 20))
}

@Test func removalAndEvictionDropResidentPages() {
    let index = BlobIndex(capacity: 2)
    index.insert(blob(0), size: 8192)
    index.insert(blob(1), size: 8192)
    index.noteResident(blob(0), bytes: 8192)
    index.noteResident(blob(1), bytes: 4096)
    index.remove(blob(1))
    #expect(index.residentBytes == 8192)
    index.insert(blob(2), size: 1)
    index.insert(blob(3), size: 1)  // evicts blob(0)
    #expect(index.residentBytes == 0)
    #expect(index.coldestResident() == nil)
}

@Test func shrinkingABlobCapsItsResidentPages() {
    let index = BlobIndex(capacity: 2)
    index.insert(blob(0), size: 5 * 4096)
    index.noteResident(blob(0), bytes: 5 * 4096)
    index.insert(blob(0), size: 4096 + 1)
    #expect(index.residentBytes == 2 * 4096)
    index.insert(blob(0), size: 0)
    #expect(index.residentBytes == 0)
    #expect(index.coldestResident() == nil)
}

// MARK: Listing

@Test func smallestDigestsPagesThroughEveryDigestOnceInOrder() {
    let index = BlobIndex(capacity: 300)
    var all: [Digest] = []
    for n in 0..<250 {
        let digest = blob(n, n % 5 == 0 ? .sha512 : .sha256)
        all.append(digest)
        index.insert(digest, size: 1)
    }
    for pageSize in [1, 7, 100, 1000] {
        var listed: [Digest] = []
        var after: Digest?
        while true {
            let page = index.smallestDigests(after: after, limit: pageSize, algorithm: nil)
            #expect(page.count <= pageSize)
            listed += page
            guard page.count == pageSize, let last = page.last else { break }
            after = last
        }
        #expect(listed == all.sorted())
    }
}

@Test func smallestDigestsFiltersByAlgorithm() {
    let index = BlobIndex(capacity: 32)
    for n in 0..<20 { index.insert(blob(n, n % 2 == 0 ? .sha512 : .sha256), size: 1) }
    let sha512 = (0..<20).filter { $0 % 2 == 0 }.map { blob($0, .sha512) }.sorted()
    #expect(index.smallestDigests(after: nil, limit: 100, algorithm: .sha512) == sha512)
    #expect(index.smallestDigests(after: sha512[3], limit: 2, algorithm: .sha512) == Array(sha512[4..<6]))
    #expect(index.smallestDigests(after: nil, limit: 0, algorithm: nil).isEmpty)
}

@Test func aBoundedMaxHeapKeepsTheSmallestElements() {
    var heap = BoundedMaxHeap<Int>(limit: 5, expected: 100)
    for value in [50, 3, 99, 7, 1, 42, 8, 2, 77, 5] { heap.offer(value) }
    #expect(heap.ascending() == [1, 2, 3, 5, 7])
}

// MARK: Marks

@Test func unmarkedDigestsAreThoseNotMarkedSinceClearMarks() {
    let index = BlobIndex(capacity: 8)
    for n in 0..<5 { index.insert(blob(n), size: 1) }
    #expect(index.unmarkedDigests(limit: 10).isEmpty, "inserting marks")
    index.clearMarks()
    #expect(index.mark(blob(1)))
    #expect(index.mark(blob(3)))
    #expect(!index.mark(blob(9)))
    index.insert(blob(5), size: 1)
    #expect(index.unmarkedDigests(limit: 10) == [blob(0), blob(2), blob(4)])
    #expect(index.unmarkedDigests(limit: 2) == [blob(0), blob(2)])
    index.clearMarks()
    #expect(index.unmarkedDigests(limit: 10).count == 6)
}

// MARK: Memory

@Test func bytesPerEntryIsTheEntryPlusItsShareOfTheTable() {
    #expect(BlobIndex(capacity: 1024).bytesPerEntry == MemoryLayout<IndexEntry>.stride + 8)
    #expect(BlobIndex(capacity: 1025).bytesPerEntry <= BlobIndex.estimatedBytesPerEntry)
    #expect(BlobIndex(capacity: 3).bytesPerEntry <= BlobIndex.estimatedBytesPerEntry)
}
