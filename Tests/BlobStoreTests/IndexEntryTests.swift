import Testing
@testable import BlobStore

@Test func anIndexEntryFitsInSixtyFourBytes() {
    #expect(MemoryLayout<IndexEntry>.size <= 64)
    #expect(MemoryLayout<IndexEntry>.stride <= 64)
}

@Test func aNewEntryIsLiveMarkedUnlinkedAndHasNoResidentPages() {
    let digest = StreamingHasher.digest(of: Array("entry".utf8), using: .sha512)
    let entry = IndexEntry(head: HashWords(head: digest), algorithm: .sha512, size: 10)
    #expect(entry.isLive)
    #expect(entry.algorithm == .sha512)
    #expect(entry.isMarked)
    #expect(entry.residentPages == 0)
    #expect(entry.lruPrev == IndexEntry.noLink && entry.lruNext == IndexEntry.noLink)
    #expect(entry.residentPrev == IndexEntry.noLink && entry.residentNext == IndexEntry.noLink)
}

@Test func clearingTheMarkKeepsTheAlgorithm() {
    var entry = IndexEntry(head: .zero, algorithm: .sha256, size: 1)
    entry.isMarked = false
    #expect(!entry.isMarked)
    #expect(entry.algorithm == .sha256)
}

@Test func pagesRoundUpAndSaturateAtSixteenTebibytes() {
    #expect(IndexEntry.pages(covering: 0) == 0)
    #expect(IndexEntry.pages(covering: 1) == 1)
    #expect(IndexEntry.pages(covering: 4096) == 1)
    #expect(IndexEntry.pages(covering: 4097) == 2)
    #expect(IndexEntry.pages(covering: .max) == .max)
}

@Test func hashWordsRebuildTheDigestTheyCameFrom() {
    for algorithm in DigestAlgorithm.allCases {
        let digest = StreamingHasher.digest(of: Array("words".utf8), using: algorithm)
        let head = HashWords(head: digest)
        let tail = algorithm == .sha512 ? HashWords(tail: digest) : nil
        #expect(head.w0 == digest.mixingBits)
        #expect(Digest(algorithm: algorithm, head: head, tail: tail) == digest)
    }
}
