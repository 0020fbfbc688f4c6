import Glibc
import Testing
@testable import BlobStore

@Suite struct BlobStorePersistence {
    /// Writes `count` small blobs and returns their digests in write order.
    func fill(_ store: BlobStore, count: Int, seed: UInt64 = 100) throws -> [Digest] {
        try (0..<count).map { try store.put(pseudoRandomBytes(count: 100, seed: seed + UInt64($0))) }
    }

    /// The store's LRU order, coldest first, read from the index.
    func recencyOrder(_ store: BlobStore) -> [Digest] {
        store.state.withLock { state in
            var order: [Digest] = []
            state.index.forEachColdestFirst { digest, _ in order.append(digest) }
            return order
        }
    }

    @Test func aCleanRestartRestoresEveryBlobAndTheLRUOrderFromTheSnapshot() throws {
        let directory = StoreTestDirectory()
        let first = try BlobStore(directory: directory.data, options: testOptions())
        let digests = try fill(first, count: 20)
        _ = try openExisting(first, digests[3])
        _ = try openExisting(first, digests[0])
        let before = recencyOrder(first)
        #expect(before.suffix(2) == [digests[3], digests[0]])
        try first.close()

        let second = try BlobStore(directory: directory.data, options: testOptions())
        #expect(recencyOrder(second) == before)
        #expect(second.stats().bytes == 2000)
        let snapshotSize = (try? FileDescriptor.open("\(directory.data)/index/snapshot", flags: O_RDONLY).size()) ?? 0
        #expect(snapshotSize > 20 * 41)
    }

    @Test func aStoreDroppedWithoutCloseIsRebuiltFromTheJournal() throws {
        let directory = StoreTestDirectory()
        var digests: [Digest] = []
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions())
            digests = try fill(store, count: 10)
            try store.remove(digests[4])
            // No close: like a crash, no snapshot is written.
        }
        let reopened = try BlobStore(directory: directory.data, options: testOptions())
        var expected = digests
        expected.remove(at: 4)
        #expect(recencyOrder(reopened) == expected)
    }

    @Test func aTornJournalTailIsIgnoredAndTheRestReplays() throws {
        let directory = StoreTestDirectory()
        var digests: [Digest] = []
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions())
            digests = try fill(store, count: 5)
        }
        // Half a record at the end, as a crash mid-append leaves it.
        let fd = open("\(directory.data)/index/journal", O_WRONLY | O_APPEND)
        var torn: [UInt8] = [1, 1, 0x40, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad]
        _ = write(fd, &torn, torn.count)
        close(fd)
        let reopened = try BlobStore(directory: directory.data, options: testOptions())
        #expect(recencyOrder(reopened) == digests)
        // New records go after the valid prefix and replay next time.
        let more = try reopened.put([9, 9, 9])
        try reopened.close()
        let third = try BlobStore(directory: directory.data, options: testOptions())
        #expect(recencyOrder(third) == digests + [more])
    }

    @Test func aCorruptSnapshotIsDiscardedAndReconciliationRebuildsTheIndex() throws {
        let directory = StoreTestDirectory()
        var digests: [Digest] = []
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions())
            digests = try fill(store, count: 8)
            try store.close()
        }
        corrupt(file: "\(directory.data)/index/snapshot", at: 40)
        let reopened = try BlobStore(directory: directory.data, options: testOptions())
        #expect(reopened.stats().blobs == 0)
        // Every blob is still served: the directory is the truth.
        #expect(try readAll(openExisting(reopened, digests[2])).count == 100)
        let report = try reopened.reconcile()
        #expect(report.adopted == 7)
        #expect(Set(reopened.list(limit: 100)) == Set(digests))
    }

    @Test func reconciliationAdoptsUnindexedFilesDropsVanishedEntriesAndDeletesStaleTemporaries() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let kept = try store.put([1, 2, 3])
        let vanished = try store.put([4, 5, 6])
        // A blob written by hand (as if its journal record was lost), a stray, and a dead
        // process's temporary.
        let adoptedBytes: [UInt8] = [7, 8, 9]
        let adopted = StreamingHasher.digest(of: adoptedBytes)
        let fanOut = "\(directory.data)/blobs/sha256/\(adopted.hex.prefix(2))"
        mkdir(fanOut, 0o755)
        let fd = open("\(fanOut)/\(adopted.hex)", O_WRONLY | O_CREAT, 0o644)
        _ = adoptedBytes.withUnsafeBytes { write(fd, $0.baseAddress, 3) }
        close(fd)
        close(open("\(fanOut)/not-a-digest", O_WRONLY | O_CREAT, 0o644))
        close(open("\(directory.data)/tmp/999999.1.partial", O_WRONLY | O_CREAT, 0o644))
        unlink("\(directory.data)/\(StoreLayout.path(of: vanished))")

        let report = try store.reconcile()
        #expect(report.adopted == 1)
        #expect(report.dropped == 1)
        #expect(report.temporariesRemoved == 1)
        #expect(report.strayFiles == 1)
        #expect(report.filesSeen == 2)
        #expect(Set(store.list(limit: 10)) == [kept, adopted])
        #expect(directoryEntries("\(directory.data)/tmp").isEmpty)
        #expect(store.stats().reconciled)
    }

    @Test func verifyQuarantinesABlobWhoseBytesRottedAndItBecomesAMiss() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions())
        let good = try store.put(pseudoRandomBytes(count: 3 << 20, seed: 1))
        let bad = try store.put(pseudoRandomBytes(count: 1000, seed: 2))
        corrupt(file: "\(directory.data)/\(StoreLayout.path(of: bad))", at: 500)
        var updates: [ScrubProgress] = []
        let report = try store.verify { updates.append($0) }
        #expect(report.blobsChecked == 2)
        #expect(report.bytesChecked == (3 << 20) + 1000)
        #expect(report.quarantined == [bad])
        #expect(updates.count == 2)
        #expect(updates.last?.quarantined == 1)
        #expect(updates.last?.bytesTotal == (3 << 20) + 1000)
        #expect(try isMiss(store, bad))
        #expect(!store.contains(bad))
        #expect(store.contains(good))
        #expect(directoryEntries("\(directory.data)/quarantine").count == 1)
        #expect(store.stats().quarantined == 1)
        // The bad blob can be stored again from good bytes.
        try store.put(pseudoRandomBytes(count: 1000, seed: 2), expected: bad)
        #expect(try store.verify().quarantined.isEmpty)
    }

    @Test func aSmallerEntryCapOnRestartEvictsTheColdestAndUnlinksThem() throws {
        let directory = StoreTestDirectory()
        var digests: [Digest] = []
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions())
            digests = try fill(store, count: 10)
            try store.close()
        }
        let smaller = try BlobStore(directory: directory.data, options: testOptions { $0.maxEntries = 4 })
        #expect(recencyOrder(smaller) == Array(digests.suffix(4)))
        #expect(blobFiles(in: directory.data).count == 4)
    }
}
