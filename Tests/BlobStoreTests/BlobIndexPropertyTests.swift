import Testing
import TestSupport
@testable import BlobStore

/// The index's contract written as plainly as possible: an array in LRU order and
/// dictionaries, every operation O(n).
private struct ModelIndex {
    let capacity: Int
    /// Coldest first.
    var order: [Digest] = []
    var sizes: [Digest: UInt64] = [:]
    /// Entries with resident pages, least recently served first; the hot ones go last.
    var residentOrder: [Digest] = []
    var pages: [Digest: UInt64] = [:]
    /// Pages served, and each entry's last request on that clock in 16-page units (22 bits, never 0).
    var clock: UInt64 = 0
    var requested: [Digest: UInt64] = [:]
    var hot: Set<Digest> = []

    var totalBytes: UInt64 { sizes.values.reduce(0, +) }
    var residentBytes: UInt64 { pages.values.reduce(0, +) * 4096 }

    static func pages(_ bytes: UInt64) -> UInt64 { (bytes + 4095) / 4096 }

    mutating func insert(_ digest: Digest, size: UInt64, at position: BlobIndex.InsertPosition) -> IndexInsertResult {
        if let previous = sizes[digest] {
            sizes[digest] = size
            if let held = pages[digest], held > Self.pages(size) { setPages(digest, Self.pages(size)) }
            if position == .hottest { order.removeAll { $0 == digest }; order.append(digest) }
            return IndexInsertResult(previousSize: previous, evicted: nil)
        }
        var evicted: EvictedEntry?
        if order.count == capacity {
            let victim = order[0]
            evicted = EvictedEntry(digest: victim, size: sizes[victim]!)
            _ = remove(victim)
        }
        sizes[digest] = size
        if position == .hottest { order.append(digest) } else { order.insert(digest, at: 0) }
        return IndexInsertResult(previousSize: nil, evicted: evicted)
    }

    mutating func touch(_ digest: Digest) -> UInt64? {
        guard let size = sizes[digest] else { return nil }
        order.removeAll { $0 == digest }
        order.append(digest)
        return size
    }

    mutating func remove(_ digest: Digest) -> UInt64? {
        guard let size = sizes.removeValue(forKey: digest) else { return nil }
        order.removeAll { $0 == digest }
        setPages(digest, 0)
        requested[digest] = nil
        hot.remove(digest)
        return size
    }

    mutating func noteResident(_ digest: Digest, bytes: UInt64) {
        guard let size = sizes[digest] else { return }
        clock += Self.pages(bytes)
        let new = min((pages[digest] ?? 0) + Self.pages(bytes), Self.pages(size))
        guard new > 0 else { return }
        residentOrder.removeAll { $0 == digest }
        residentOrder.append(digest)
        pages[digest] = new
    }

    mutating func noteRequested(_ digest: Digest, hotWithinPages window: UInt64) {
        guard sizes[digest] != nil else { return }
        let turn: UInt64 = 1 << 22
        let now = max(clock / 16 % turn, 1)
        let previous = requested[digest] ?? 0
        let isHot = previous != 0 && (now + turn - previous) % turn * 16 <= min(window, (turn / 2 - 1) * 16)
        requested[digest] = now
        guard isHot != hot.contains(digest) else { return }
        if isHot { hot.insert(digest) } else { hot.remove(digest) }
        if pages[digest] != nil {
            residentOrder.removeAll { $0 == digest }
            residentOrder.append(digest)
        }
    }

    mutating func noteStillResident(_ digest: Digest, bytes: UInt64) {
        guard let size = sizes[digest], pages[digest] == nil else { return }
        let count = min(Self.pages(bytes), Self.pages(size))
        guard count > 0 else { return }
        pages[digest] = count
        residentOrder.insert(digest, at: 0)
    }

    var coldestResident: Digest? { residentOrder.first { !hot.contains($0) } ?? residentOrder.first }

    /// Sets the pages without changing the resident order, except that 0 leaves the list.
    mutating func setPages(_ digest: Digest, _ count: UInt64) {
        if count == 0 {
            pages[digest] = nil
            residentOrder.removeAll { $0 == digest }
        } else {
            pages[digest] = count
        }
    }
}

/// A few hundred digests, with the awkward cases over-represented: sha512 pairs that share
/// their first 32 bytes, and sha256 digests that share their `mixingBits`.
private func digestPool(_ random: inout SplitMix64) -> [Digest] {
    func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }
    var pool: [Digest] = []
    for _ in 0..<150 { pool.append(Digest(algorithm: .sha256, bytes: bytes(32))) }
    for _ in 0..<50 { pool.append(Digest(algorithm: .sha512, bytes: bytes(64))) }
    for _ in 0..<25 {
        let head = bytes(32)
        pool.append(Digest(algorithm: .sha512, bytes: head + bytes(32)))
        pool.append(Digest(algorithm: .sha512, bytes: head + bytes(32)))
    }
    let shared = bytes(8)
    for _ in 0..<50 { pool.append(Digest(algorithm: .sha256, bytes: shared + bytes(24))) }
    return pool
}

@Test(arguments: [1, 2, 3, 0xC0FFEE, 0xDEAD_BEEF] as [UInt64])
func randomOperationsAgreeWithASimpleModel(seed: UInt64) throws {
    var random = SplitMix64(state: seed)
    let pool = digestPool(&random)
    let capacity = 64
    let index = BlobIndex(capacity: capacity)
    var model = ModelIndex(capacity: capacity)

    for step in 0..<20_000 {
        let digest = pool.randomElement(using: &random)!
        let size = random.next() % 8 == 0 ? 0 : UInt64.random(in: 1...(1 << 20), using: &random)
        let operation = Int.random(in: 0..<100, using: &random)
        // Built only when an expectation fails: formatting every step would dominate the run.
        func context() -> Comment { "seed \(seed), step \(step), operation \(operation), \(digest)" }
        switch operation {
        case 0..<30:
            try #require(index.insert(digest, size: size, at: .hottest) == model.insert(digest, size: size, at: .hottest), context())
        case 30..<40:
            try #require(index.insert(digest, size: size, at: .coldest) == model.insert(digest, size: size, at: .coldest), context())
        case 40..<55:
            try #require(index.touch(digest) == model.touch(digest), context())
        case 55..<65:
            try #require(index.remove(digest) == model.remove(digest), context())
        case 65..<72:
            try #require(index.lookup(digest) == model.sizes[digest], context())
        case 72..<77:
            let window = UInt64.random(in: 0...(1 << 14), using: &random)
            index.noteRequested(digest, hotWithinPages: window)
            model.noteRequested(digest, hotWithinPages: window)
        case 77..<80:
            let bytes = UInt64.random(in: 0...(1 << 18), using: &random)
            index.noteStillResident(digest, bytes: bytes)
            model.noteStillResident(digest, bytes: bytes)
        case 80..<95:
            let bytes = UInt64.random(in: 0...(1 << 18), using: &random)
            index.noteResident(digest, bytes: bytes)
            model.noteResident(digest, bytes: bytes)
        default:
            index.clearResident(digest)
            model.setPages(digest, 0)
        }

        var order: [Digest] = []
        var sizesMatch = true
        index.forEachColdestFirst { digest, size in
            order.append(digest)
            sizesMatch = sizesMatch && model.sizes[digest] == size
        }
        try #require(order == model.order, context())
        try #require(sizesMatch, context())
        try #require(index.count == model.order.count, context())
        try #require(index.isFull == (model.order.count == capacity), context())
        try #require(index.totalBytes == model.totalBytes, context())
        try #require(index.coldest()?.digest == model.order.first, context())
        try #require(index.residentBytes == model.residentBytes, context())
        try #require(index.coldestResident() == model.coldestResident, context())

        if step % 499 == 0 {
            let after = random.next() % 2 == 0 ? nil : pool.randomElement(using: &random)
            let expected = model.order.filter { after == nil || after! < $0 }.sorted()
            try #require(index.smallestDigests(after: after, limit: 10, algorithm: nil) == Array(expected.prefix(10)), context())
        }
    }
}

/// The page-cache side alone, on a few blobs that stay in the index, so that blobs turn hot and
/// back while they have pages: the order in which their pages go, checked whole.
@Test(arguments: [1, 2, 3] as [UInt64])
func residencyAgreesWithASimpleModel(seed: UInt64) throws {
    var random = SplitMix64(state: seed)
    let blobs = Array(digestPool(&random).prefix(12))
    let index = BlobIndex(capacity: 64)
    var model = ModelIndex(capacity: 64)
    for digest in blobs {
        let size = UInt64.random(in: 1...(1 << 20), using: &random)
        index.insert(digest, size: size)
        _ = model.insert(digest, size: size, at: .hottest)
    }

    for step in 0..<20_000 {
        let digest = blobs.randomElement(using: &random)!
        let operation = Int.random(in: 0..<100, using: &random)
        func context() -> Comment { "seed \(seed), step \(step), operation \(operation), \(digest)" }
        switch operation {
        case 0..<45:
            let bytes = UInt64.random(in: 0...(1 << 16), using: &random)
            index.noteResident(digest, bytes: bytes)
            model.noteResident(digest, bytes: bytes)
        case 45..<80:
            // Windows around the pages served between two requests of a blob: some turn hot, some not.
            let window = UInt64.random(in: 0...(1 << 10), using: &random)
            index.noteRequested(digest, hotWithinPages: window)
            model.noteRequested(digest, hotWithinPages: window)
        case 80..<90:
            let bytes = UInt64.random(in: 0...(1 << 16), using: &random)
            index.noteStillResident(digest, bytes: bytes)
            model.noteStillResident(digest, bytes: bytes)
        default:
            index.clearResident(digest)
            model.setPages(digest, 0)
        }
        try #require(index.residentBytes == model.residentBytes, context())
        try #require(index.coldestResident() == model.coldestResident, context())

        if step % 97 == 0 {
            // The whole drop order, not just its head: empty both, coldest first.
            while let coldest = model.coldestResident {
                try #require(index.coldestResident() == coldest, context())
                index.clearResident(coldest)
                model.setPages(coldest, 0)
            }
            try #require(index.coldestResident() == nil && index.residentBytes == 0, context())
        }
    }
}
