import CBlobSys
import Glibc
import Testing
@testable import BlobStore

@Suite struct BlobStoreWritingAndReading {
    @Test func aBlobPutIsReadBackByteForByteUnderItsDigest() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let bytes = pseudoRandomBytes(count: 300_000, seed: 1)
        let digest = try store.put(bytes)
        #expect(digest == StreamingHasher.digest(of: bytes))
        let blob = try openExisting(store, digest)
        #expect(blob.size == 300_000)
        #expect(try readAll(blob) == bytes)
        #expect(blobFiles(in: directory.data) == ["sha256/\(digest.hex.prefix(2))/\(digest.hex)"])
        try store.close()
    }

    @Test func aSha512BlobIsStoredAndReadUnderItsOwnAlgorithm() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let bytes = pseudoRandomBytes(count: 5000, seed: 2)
        let writer = try store.makeWriter(algorithm: .sha512)
        try bytes.withUnsafeBytes { try writer.write($0) }
        let digest = try writer.commit()
        #expect(digest == StreamingHasher.digest(of: bytes, using: .sha512))
        #expect(try readAll(openExisting(store, digest)) == bytes)
        #expect(store.list(limit: 10) == [digest])
    }

    @Test(arguments: [false, true])
    func aWrongExpectedDigestStoresNothingAndLeavesNoTemporary(named: Bool) throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.forceNamedTemporaries = named })
        let claimed = StreamingHasher.digest(of: [1, 2, 3])
        #expect(throws: BlobStoreError.digestMismatch(expected: claimed, actual: StreamingHasher.digest(of: [1, 2, 4]))) {
            try store.put([1, 2, 4], expected: claimed)
        }
        #expect(!store.contains(claimed))
        #expect(try isMiss(store, claimed))
        #expect(blobFiles(in: directory.data).isEmpty)
        #expect(directoryEntries("\(directory.data)/tmp").isEmpty)
        #expect(store.stats().pendingBytes == 0)
    }

    @Test func aShortOrLongBodyAgainstTheExpectedSizeStoresNothing() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let short = try store.makeWriter(expectedSize: 10)
        try [UInt8](repeating: 7, count: 9).withUnsafeBytes { try short.write($0) }
        #expect(throws: BlobStoreError.sizeMismatch(expected: 10, actual: 9)) { try short.commit() }

        let long = try store.makeWriter(expectedSize: 10)
        #expect(throws: BlobStoreError.sizeMismatch(expected: 10, actual: 11)) {
            try [UInt8](repeating: 7, count: 11).withUnsafeBytes { try long.write($0) }
        }
        #expect(throws: BlobStoreError.writerFinished) { try long.commit() }
        #expect(blobFiles(in: directory.data).isEmpty)
    }

    @Test(arguments: [false, true])
    func anAbandonedWriterLeavesNothingBehindAfterARestart(named: Bool) throws {
        let directory = StoreTestDirectory()
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions { $0.forceNamedTemporaries = named })
            let writer = try store.makeWriter()
            try pseudoRandomBytes(count: 1 << 20, seed: 3).withUnsafeBytes { try writer.write($0) }
            // Dropped without commit or abandon: deinit abandons.
            _ = writer
            try store.close()
        }
        let reopened = try BlobStore(directory: directory.data, options: testOptions())
        let report = try reopened.reconcile()
        #expect(report.adopted == 0)
        #expect(blobFiles(in: directory.data).isEmpty)
        #expect(directoryEntries("\(directory.data)/tmp").isEmpty)
        #expect(reopened.stats().blobs == 0)
    }

    @Test func twoWritersOfTheSameDigestBothSucceedAndOneFileRemains() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let bytes = pseudoRandomBytes(count: 100_000, seed: 4)
        let first = try store.makeWriter()
        let second = try store.makeWriter()
        try bytes.withUnsafeBytes { try first.write($0) }
        try bytes.withUnsafeBytes { try second.write($0) }
        let a = try first.commit()
        let b = try second.commit()
        #expect(a == b)
        #expect(blobFiles(in: directory.data).count == 1)
        #expect(store.stats().blobs == 1)
        #expect(store.stats().bytes == 100_000)
    }

    @Test func concurrentWritersOfOneDigestFromManyThreadsAllSucceed() async throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let bytes = pseudoRandomBytes(count: 64 << 10, seed: 5)
        let expected = StreamingHasher.digest(of: bytes)
        let results = try await withThrowingTaskGroup(of: Digest.self) { group in
            for _ in 0..<8 { group.addTask { try store.put(bytes, expected: expected) } }
            return try await group.reduce(into: [Digest]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: expected, count: 8))
        #expect(blobFiles(in: directory.data).count == 1)
    }

    @Test func aReaderKeepsReadingABlobRemovedWhileItIsOpen() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let bytes = pseudoRandomBytes(count: 200_000, seed: 6)
        let digest = try store.put(bytes)
        let blob = try openExisting(store, digest)
        #expect(try store.remove(digest))
        #expect(try isMiss(store, digest))
        #expect(!store.contains(digest))
        #expect(try readAll(blob) == bytes)
        #expect(try !store.remove(digest))
    }

    @Test func aReaderKeepsReadingABlobEvictedWhileItIsOpen() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.maxEntries = 2 })
        let bytes = pseudoRandomBytes(count: 50_000, seed: 7)
        let digest = try store.put(bytes)
        let blob = try openExisting(store, digest)
        try store.put([1])
        try store.put([2])
        #expect(!store.contains(digest))
        #expect(store.stats().evictions == 1)
        #expect(try readAll(blob) == bytes)
    }

    @Test func openingAMissIsNilAndRemovingAMissIsFalse() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let absent = StreamingHasher.digest(of: Array("absent".utf8))
        #expect(try isMiss(store, absent))
        #expect(store.size(of: absent) == nil)
        #expect(try !store.remove(absent))
    }

    @Test func aSecondStoreOnTheSameDirectoryIsRefusedWhileTheFirstIsOpen() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        #expect(throws: BlobStoreError.directoryLocked(path: directory.data)) {
            try BlobStore(directory: directory.data, options: testOptions())
        }
        try store.close()
    }

    @Test func anUnusableDirectoryIsAnErrorNamingTheCallAndPath() throws {
        #expect {
            try BlobStore(directory: "/proc/blobcache-cannot-exist/data", options: testOptions())
        } throws: { error in
            guard case .system(let system) = error as? BlobStoreError else { return false }
            return system.call == "mkdirat" && system.path == "/proc/blobcache-cannot-exist/data"
        }
    }
}

@Suite struct BlobStoreListingAndStats {
    @Test func listingPagesThroughEveryDigestOnceInOrder() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        var stored: [Digest] = []
        for seed in 0..<57 { stored.append(try store.put(pseudoRandomBytes(count: 10 + seed, seed: UInt64(seed)))) }
        var seen: [Digest] = []
        var after: Digest? = nil
        while true {
            let page = store.list(after: after, limit: 10)
            if page.isEmpty { break }
            #expect(page.count <= 10)
            seen += page
            after = page.last
        }
        #expect(seen == stored.sorted())
    }

    @Test func statsCountBytesBlobsAndEvictions() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.maxEntries = 3 })
        for seed in 0..<5 { try store.put(pseudoRandomBytes(count: 1000, seed: UInt64(seed))) }
        let stats = store.stats()
        #expect(stats.blobs == 3)
        #expect(stats.bytes == 3000)
        #expect(stats.evictions == 2)
        #expect(stats.indexCapacity == 3)
        #expect(stats.indexBytes > 0)
        #expect(stats.pendingBytes == 0)
    }
}
