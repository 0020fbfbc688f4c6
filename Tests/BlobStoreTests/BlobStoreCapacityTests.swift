import CBlobSys
import Glibc
import Testing
@testable import BlobStore

@Suite struct BlobStoreCapacity {
    @Test func aTinySizeCapEvictsTheLeastRecentlyUsedAndKeepsUsageUnderIt() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions {
            $0.capacity = CapacityPolicy(maxSize: .bytes(10_000), minFree: .bytes(0), minReclaim: .bytes(2_000))
        })
        var digests: [Digest] = []
        for seed in 0..<30 {
            digests.append(try store.put(pseudoRandomBytes(count: 1000, seed: UInt64(seed))))
            // Keep the first blob hot: it must survive every round of eviction.
            _ = try openExisting(store, digests[0])
            #expect(store.stats().bytes <= 10_000)
        }
        let stats = store.stats()
        #expect(stats.effectiveCap == 10_000)
        #expect(stats.evictions >= 20)
        #expect(store.contains(digests[0]))
        #expect(store.contains(digests[29]))
        #expect(!store.contains(digests[1]))
        #expect(blobFiles(in: directory.data).count == stats.blobs)
    }

    @Test func aBlobLargerThanTheCapIsRefusedBeforeAnyByteIsWritten() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions {
            $0.capacity = CapacityPolicy(maxSize: .bytes(10_000), minFree: .bytes(0), minReclaim: .bytes(0))
        })
        let kept = try store.put(pseudoRandomBytes(count: 5000, seed: 1))
        #expect(throws: BlobStoreError.insufficientStorage(needed: 20_000)) {
            try store.makeWriter(expectedSize: 20_000)
        }
        #expect(store.contains(kept))
    }

    @Test func aWriterOfUnknownSizeMakesRoomForADeclaredPieceOrRefusesItWithoutEvicting() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions {
            $0.capacity = CapacityPolicy(maxSize: .bytes(10_000), minFree: .bytes(0), minReclaim: .bytes(0))
        })
        let cold = try store.put(pseudoRandomBytes(count: 4000, seed: 1))
        let hot = try store.put(pseudoRandomBytes(count: 4000, seed: 2))
        let refused = try store.makeWriter()
        #expect(throws: BlobStoreError.insufficientStorage(needed: 20_000)) { try refused.makeRoom(for: 20_000) }
        #expect(store.contains(cold) && store.contains(hot), "a piece that could never fit evicted blobs")
        #expect(throws: BlobStoreError.writerFinished) { try refused.makeRoom(for: 1) }

        let writer = try store.makeWriter()
        try writer.makeRoom(for: 5000)
        #expect(!store.contains(cold))
        #expect(store.contains(hot))
        try pseudoRandomBytes(count: 5000, seed: 3).withUnsafeBytes { try writer.write($0) }
        try writer.commit()
        #expect(store.stats().bytes <= 10_000)
    }

    @Test func theMaintenanceRoundEvictsWhenTheCapShrinks() throws {
        let directory = StoreTestDirectory()
        var digests: [Digest] = []
        do {
            let store = try BlobStore(directory: directory.data, options: testOptions())
            for seed in 0..<10 { digests.append(try store.put(pseudoRandomBytes(count: 1000, seed: UInt64(seed)))) }
            try store.close()
        }
        let store = try BlobStore(directory: directory.data, options: testOptions {
            $0.capacity = CapacityPolicy(maxSize: .bytes(5_000), minFree: .bytes(0), minReclaim: .bytes(1_000))
        })
        // Opening computes the cap and evicts down to cap − reclaim.
        #expect(store.stats().bytes <= 4_000)
        #expect(store.contains(digests[9]))
        #expect(!store.contains(digests[0]))
    }

    @Test func committedBlobsLeaveThePageCache() throws {
        let directory = StoreTestDirectory()
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.writebackChunkBytes = 1 << 20 })
        let digest = try store.put(pseudoRandomBytes(count: 16 << 20, seed: 9))
        let blob = try openExisting(store, digest)
        let resident = cbs_resident_pages(blob.descriptor.rawValue, blob.size)
        #expect(resident >= 0)
        #expect(resident < 16 << 20 / 4096 / 10, "more than 10% of a just-written blob stayed resident")
    }

    @Test func servedPagesBeyondTheBudgetAreDroppedColdestFirst() throws {
        let directory = StoreTestDirectory()
        let budget: UInt64 = 2 << 20
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.pageCacheBudget = budget })
        var digests: [Digest] = []
        for seed in 0..<4 { digests.append(try store.put(pseudoRandomBytes(count: 1 << 20, seed: UInt64(seed)))) }
        for digest in digests {
            let blob = try openExisting(store, digest)
            _ = try readAll(blob)
            store.noteServed(digest, bytes: blob.size)
        }
        // The maintenance thread may already have trimmed; trimming again is harmless.
        store.trimPageCache()
        #expect(store.stats().residentBytesEstimate <= budget)
        let pages = try digests.map { digest in
            let blob = try openExisting(store, digest)
            return cbs_resident_pages(blob.descriptor.rawValue, blob.size)
        }
        // The two coldest were dropped; the hottest kept its pages.
        #expect(pages[0] < 16 && pages[1] < 16, "cold blobs still resident: \(pages)")
        #expect(pages[3] == 256, "hot blob lost its pages: \(pages)")
    }

    /// Under plain least-recently-served order, a scan of blobs read once pushes out a blob that
    /// is asked for again and again, whenever the scan serves a budget's worth in between.
    @Test func aScanOfBlobsReadOnceLeavesAHotBlobsPagesAlone() throws {
        let directory = StoreTestDirectory()
        let budget: UInt64 = 1 << 20
        let blobBytes = 256 << 10
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.pageCacheBudget = budget })
        let hot = try store.put(pseudoRandomBytes(count: blobBytes, seed: 100))
        var scan: [Digest] = []
        for seed in 0..<16 { scan.append(try store.put(pseudoRandomBytes(count: blobBytes, seed: UInt64(seed)))) }
        func request(_ digest: Digest) throws {
            store.noteRequested(digest)
            let blob = try openExisting(store, digest)
            _ = try readAll(blob)
            store.noteServed(digest, bytes: blob.size)
            store.trimPageCache()
        }
        func residentPages(_ digest: Digest) throws -> Int64 {
            let blob = try openExisting(store, digest)
            return cbs_resident_pages(blob.descriptor.rawValue, blob.size)
        }

        try request(hot)
        try request(hot)
        for (n, digest) in scan.enumerated() {
            try request(digest)
            #expect(store.stats().residentBytesEstimate <= budget)
            guard n % 4 == 3 else { continue }
            // Four scan blobs, a budget's worth, came since the hot blob's last request.
            #expect(try residentPages(hot) == Int64(blobBytes / 4096), "the hot blob lost its pages after scan blob \(n)")
            try request(hot)
        }
        let scanPages = try scan.dropLast(4).reduce(Int64(0)) { $0 + (try residentPages($1)) }
        #expect(scanPages == 0, "the scan's older blobs are still resident")
    }

    /// Pages still queued on a socket by sendfile are in use, and the kernel keeps them through
    /// POSIX_FADV_DONTNEED. The estimate must go on counting what stayed, and a later trim must
    /// drop it once the socket lets go.
    @Test func pagesInUseWhenDroppedStayCountedAndGoOnALaterTrim() throws {
        let directory = StoreTestDirectory()
        let blobBytes = 256 << 10
        let store = try BlobStore(directory: directory.data, options: testOptions { $0.pageCacheBudget = 1 << 20 })
        var digests: [Digest] = []
        for seed in 0..<7 { digests.append(try store.put(pseudoRandomBytes(count: blobBytes, seed: UInt64(seed)))) }
        func serve(_ digest: Digest) throws {
            let blob = try openExisting(store, digest)
            _ = try readAll(blob)
            store.noteServed(digest, bytes: blob.size)
        }
        func residentBytes(_ digest: Digest) throws -> UInt64 {
            let blob = try openExisting(store, digest)
            let pages = cbs_resident_pages(blob.descriptor.rawValue, blob.size)
            try #require(pages >= 0)
            return UInt64(pages) * 4096
        }

        try serve(digests[0])
        // The coldest blob's first 64 KiB sent to a client that has not read them yet.
        var connection: LoopbackConnection? = try LoopbackConnection()
        let pinned = try openExisting(store, digests[0])
        var offset = off_t(0)
        try #require(cbs_sendfile(connection!.client, pinned.descriptor.rawValue, &offset, 64 << 10) == 64 << 10)

        // 6 × 256 KiB > 1 MiB: the three coldest go, the first among them.
        for digest in digests[1...5] { try serve(digest) }
        store.trimPageCache()
        #expect(try residentBytes(digests[0]) >= 64 << 10, "the sent pages went after all: the test shows nothing")
        let resident = try digests.reduce(UInt64(0)) { $0 + (try residentBytes($1)) }
        #expect(resident <= store.stats().residentBytesEstimate,
                "\(resident) bytes resident, but the estimate says \(store.stats().residentBytesEstimate)")

        // Once the client has gone, a later trim takes the leftover first. The kernel lets go of
        // the pages as it frees the socket's buffers, not necessarily at once; a trim runs only
        // over the budget, so each round serves a blob whose pages had gone. Beside the other
        // suites on two cores that took longer than 50 rounds once; 500 is 10 s at most.
        connection = nil
        var rounds = 0
        repeat {
            if rounds > 0 { usleep(20_000) }
            try serve(digests[1 + rounds % 6])
            store.trimPageCache()
            rounds += 1
        } while try residentBytes(digests[0]) > 0 && rounds < 500
        #expect(try residentBytes(digests[0]) == 0, "the leftover is still resident after \(rounds) trims")
        let last = digests[1 + (rounds - 1) % 6]
        #expect(try residentBytes(last) == UInt64(blobBytes), "the blob served last lost its pages")
    }
}

/// A store on a 4 MiB tmpfs that the suite mounts (CI runs as root), so that the disk
/// really fills.
@Suite(.serialized) struct BlobStoreOnAFullDisk {
    final class SmallFilesystem {
        let directory = StoreTestDirectory("tmpfs")
        init(bytes: Int) throws {
            let result = mount("tmpfs", directory.path, "tmpfs", 0, "size=\(bytes)")
            try #require(result == 0, "mounting a tmpfs failed (errno \(cbs_errno())); the disk-full tests need root")
        }
        deinit { umount2(directory.path, Int32(MNT_DETACH)) }
    }

    func unknownSizeWrite(_ store: BlobStore, _ bytes: [UInt8]) throws -> Digest {
        let writer = try store.makeWriter()
        for chunk in stride(from: 0, to: bytes.count, by: 64 << 10) {
            try bytes[chunk..<min(chunk + (64 << 10), bytes.count)].withUnsafeBytes { try writer.write($0) }
        }
        return try writer.commit()
    }

    @Test func writesPastAFullDiskEvictAndRetryAndNothingIsCorrupted() throws {
        let filesystem = try SmallFilesystem(bytes: 4 << 20)
        let store = try BlobStore(directory: filesystem.directory.data, options: testOptions {
            $0.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(256 << 10))
        })
        var contents: [Digest: [UInt8]] = [:]
        for seed in 0..<12 {
            let bytes = pseudoRandomBytes(count: 512 << 10, seed: UInt64(seed))
            contents[try unknownSizeWrite(store, bytes)] = bytes
        }
        let stats = store.stats()
        #expect(stats.evictions > 0)
        #expect(stats.pendingBytes == 0)
        for digest in store.list(limit: 100) {
            #expect(try readAll(openExisting(store, digest)) == contents[digest])
        }
        #expect(try store.verify().quarantined.isEmpty)
    }

    @Test func aBlobLargerThanTheDiskFailsAsInsufficientStorageAndTheStoreRecovers() throws {
        let filesystem = try SmallFilesystem(bytes: 4 << 20)
        let store = try BlobStore(directory: filesystem.directory.data, options: testOptions {
            $0.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(256 << 10))
        })
        let small = pseudoRandomBytes(count: 100 << 10, seed: 1)
        let kept = try store.put(small)
        #expect {
            try unknownSizeWrite(store, pseudoRandomBytes(count: 5 << 20, seed: 2))
        } throws: { error in
            guard case .insufficientStorage = error as? BlobStoreError else { return false }
            return true
        }
        #expect(throws: BlobStoreError.insufficientStorage(needed: 5 << 20)) {
            try store.makeWriter(expectedSize: 5 << 20)
        }
        #expect(directoryEntries("\(filesystem.directory.data)/tmp").isEmpty)
        #expect(store.stats().pendingBytes == 0)
        #expect(try store.verify().quarantined.isEmpty)
        // Space is back once the failed write's temporary is gone: the store takes writes again.
        let again = try store.put(pseudoRandomBytes(count: 1 << 20, seed: 3))
        #expect(store.contains(again))
        if store.contains(kept) { #expect(try readAll(openExisting(store, kept)) == small) }
    }
}

/// A TCP connection to itself on 127.0.0.1: bytes sent on `client` wait, unread, in `server`'s
/// receive queue until the connection is dropped, which closes both ends.
private final class LoopbackConnection {
    let client: Int32
    let server: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { Glibc.close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(bind(listener, raw, length) == 0 && listen(listener, 1) == 0)
                try #require(getsockname(listener, raw, &length) == 0)
            }
        }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(client >= 0)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
        }
        // The listener has not been accepting: an accept after a failed connect would wait forever.
        let server = connected == 0 ? accept(listener, nil, nil) : -1
        guard server >= 0 else {
            Glibc.close(client)
            throw LoopbackConnectionFailed()
        }
        self.client = client
        self.server = server
    }

    deinit {
        Glibc.close(client)
        Glibc.close(server)
    }
}

private struct LoopbackConnectionFailed: Error {}
