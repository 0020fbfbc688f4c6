import BlobStore
import Glibc
import Synchronization
import Testing
import TestSupport

extension EndToEnd {
    /// A server whose data directory is on a small tmpfs that the test mounts, taking uploads
    /// and filling from a docker-registry upstream past the space there is. Every write either
    /// succeeds (older blobs evicted) or gets 507 with an OCI error body: never another 5xx, never
    /// a hang, never a corrupted blob; reads of what is stored keep working; and once space
    /// returns, writes succeed again without a restart.
    @Suite("EndToEnd: a full disk", .serialized)
    struct DiskFullTests {
        static let diskBytes = 64 << 20

        /// The flags of a server on the small disk. The defaults (a cap of 80% of the filesystem,
        /// 5% kept free) make the store evict before the filesystem fills, so its own writes
        /// would never meet ENOSPC: 100% and 0 let them meet a really full disk. A 1 MiB minimum
        /// reclaim keeps each eviction pass small against a 64 MiB disk.
        static func arguments(upstream registry: DockerRegistry) -> [String] {
            ["--upstream", registry.baseURL, "--mirror-push", "--max-size", "100%", "--min-free", "0", "--min-reclaim", "1MiB"]
        }

        @Test func uploadsAndFillsPastTheSpaceEvictOlderBlobsOrGet507AndReadsKeepWorking() throws {
            let seed = FaultSeed.choose(for: "DiskFullTests, past the space")
            var random = SplitMix64(state: seed)
            let disk = try TmpfsMount(bytes: Self.diskBytes, label: "e2e-disk-full")
            defer { disk.unmount() }
            let logs = StoreTestDirectory("e2e-disk-full-log")
            let registry = try DockerRegistry.start()
            let upstream = try UpstreamBlobs(sizes: (0..<14).map { _ in random.number(in: (3 << 20)...(8 << 20)) }, in: "faults/cold", of: registry)
            let data = disk.path + "/data"
            let server = try ServerProcess(dataDirectory: data, arguments: Self.arguments(upstream: registry), logFile: logs.file("blobcache.log"))
            let client = OCIBlobClient(port: server.port)

            var written = 0
            var stored = 0
            var refused = 0
            for step in 0..<42 {
                let write = try Self.write(number: step, with: client, upstream: upstream, random: &random)
                written += write.size
                switch write.result {
                case .stored(let digest):
                    stored += 1
                    #expect(Files.storedBlobs(in: data).contains(digest.description), "step \(step): \(write.what) was acknowledged but is not in the store")
                case .refused:
                    refused += 1
                case .broken(let detail):
                    Issue.record("step \(step): \(write.what): \(detail); the log:\n\(server.log)")
                }
                // Reads keep working on a full disk: two of the blobs stored now come back whole.
                for _ in 0..<2 {
                    let present = Files.storedBlobs(in: data)
                    guard !present.isEmpty else { break }
                    try Self.expectReadable(present[Int(random.next() % UInt64(present.count))], in: "faults/any", client, "after step \(step)")
                }
            }
            print("DiskFullTests, past the space: \(written >> 20) MiB written in 42 requests to a \(Self.diskBytes >> 20) MiB disk: \(stored) stored, \(refused) refused with 507")
            #expect(written > 2 * Self.diskBytes, "the writes did not go past the space")
            #expect(stored >= 30, "only \(stored) of 42 writes were stored: eviction did not make room")
            // A stream larger than the free space: the store learns its length only at the end,
            // so it meets the full disk as ENOSPC, evicts and retries, and stores it.
            let free = disk.availableBytes
            let stream = randomBytes(count: free + (4 << 20))
            let streamDigest = Digest.of(stream)
            let streamed = try client.uploadInChunks(stream, digest: streamDigest, chunks: 1, framing: .streamed, to: "faults/pushed")
            #expect(Self.judge(streamed, streamDigest) == .stored(streamDigest), "a stream of \(stream.count) bytes with \(free) free: \(streamed.name) \(streamed.outcome.summary)")
            #expect(try server.metric("blobcache_store_evictions_total") ?? 0 > 0)
            try Self.expectEveryStoredBlobReadable(in: data, client, "at the end")
            #expect(server.stop() == .exited(0), "the log:\n\(server.log)")
            try Self.expectVerified(data)
        }

        @Test func writersAtOnceOnAFullDiskEachGetSuccessOr507WhileReadsKeepWorking() throws {
            let seed = FaultSeed.choose(for: "DiskFullTests, writers at once")
            var random = SplitMix64(state: seed)
            let disk = try TmpfsMount(bytes: Self.diskBytes, label: "e2e-disk-race")
            defer { disk.unmount() }
            let logs = StoreTestDirectory("e2e-disk-race-log")
            let registry = try DockerRegistry.start()
            let upstream = try UpstreamBlobs(sizes: (0..<12).map { _ in random.number(in: (3 << 20)...(8 << 20)) }, in: "faults/cold", of: registry)
            let data = disk.path + "/data"
            let server = try ServerProcess(dataDirectory: data, arguments: Self.arguments(upstream: registry), logFile: logs.file("blobcache.log"))
            let client = OCIBlobClient(port: server.port)
            let problems = Mutex<[String]>([])
            let tally = Mutex((stored: 0, refused: 0, reads: 0))
            let writing = Atomic<Int>(3)

            let writers = (0..<3).map { index in
                SystemThread(name: "fault-writer-\(index)") { [seed] in
                    var random = SplitMix64(state: seed &+ UInt64(index + 1) << 40)
                    defer { writing.subtract(1, ordering: .releasing) }
                    for step in 0..<12 {
                        do {
                            let write = try Self.write(number: index + step, with: client, upstream: upstream, random: &random)
                            switch write.result {
                            case .stored: tally.withLock { $0.stored += 1 }
                            case .refused: tally.withLock { $0.refused += 1 }
                            case .broken(let detail): problems.withLock { $0.append("writer \(index), step \(step): \(write.what): \(detail)") }
                            }
                        } catch {
                            problems.withLock { $0.append("writer \(index), step \(step): \(error)") }
                        }
                    }
                }
            }
            // Reads meanwhile: a stored blob comes back whole, or, evicted under it, is gone.
            let reader = SystemThread(name: "fault-reader") { [seed] in
                var random = SplitMix64(state: seed &+ 99)
                while writing.load(ordering: .acquiring) > 0 {
                    let present = Files.storedBlobs(in: data)
                    guard !present.isEmpty else {
                        pause(seconds: 0.01)
                        continue
                    }
                    let digest = present[Int(random.next() % UInt64(present.count))]
                    do {
                        let outcome = try client.get("/v2/faults/any/blobs/\(digest)", keepingBody: false)
                        let whole = outcome.isComplete && outcome.status == 200 && outcome.bodyDigest.description == digest
                        let evicted = outcome.isComplete && outcome.status == 404 && !Files.storedBlobs(in: data).contains(digest)
                        if whole || evicted { tally.withLock { $0.reads += 1 } } else {
                            problems.withLock { $0.append("reading \(digest): \(outcome.summary)") }
                        }
                    } catch {
                        problems.withLock { $0.append("reading \(digest): \(error)") }
                    }
                }
            }
            for writer in writers { writer.join() }
            reader.join()

            let counts = tally.withLock { $0 }
            print("DiskFullTests, writers at once: \(counts.stored) stored, \(counts.refused) refused with 507, \(counts.reads) reads")
            #expect(problems.withLock { $0 }.isEmpty, "\(problems.withLock { $0 }.joined(separator: "\n"))\nthe log:\n\(server.log)")
            // 24 writes of at least 3 MiB are more than the 64 MiB disk holds.
            #expect(counts.stored >= 24, "only \(counts.stored) of 36 writes were stored: eviction did not make room")
            #expect(counts.reads > 0, "no read finished while the writers ran")
            try Self.expectEveryStoredBlobReadable(in: data, client, "at the end")
            #expect(server.stop() == .exited(0), "the log:\n\(server.log)")
            try Self.expectVerified(data)
        }

        @Test func whenAnotherTenantFillsTheDiskWritesGet507ReadsKeepWorkingAndWritesSucceedOnceSpaceReturns() throws {
            let seed = FaultSeed.choose(for: "DiskFullTests, another tenant")
            var random = SplitMix64(state: seed)
            let disk = try TmpfsMount(bytes: Self.diskBytes, label: "e2e-disk-tenant")
            defer { disk.unmount() }
            let logs = StoreTestDirectory("e2e-disk-tenant-log")
            let registry = try DockerRegistry.start()
            let small = try UpstreamBlobs(sizes: (0..<3).map { _ in random.number(in: (256 << 10)...(1 << 20)) }, in: "faults/small", of: registry)
            let large = try UpstreamBlobs(sizes: [8 << 20, 8 << 20], in: "faults/large", of: registry)
            let data = disk.path + "/data"
            let server = try ServerProcess(dataDirectory: data, arguments: Self.arguments(upstream: registry), logFile: logs.file("blobcache.log"))
            let client = OCIBlobClient(port: server.port)

            // What the store holds before the other tenant comes: a few small blobs, both kinds.
            for blob in small.all { #expect(Self.judge(try client.get(blob.path, keepingBody: true), fillOf: blob) == .stored(blob.digest)) }
            for _ in 0..<3 {
                let bytes = randomBytes(count: random.number(in: (256 << 10)...(1 << 20)))
                let digest = Digest.of(bytes)
                #expect(Self.judge(try client.uploadWhole(bytes, digest: digest, to: "faults/kept"), digest) == .stored(digest))
            }
            let kept = Files.storedBlobs(in: data)
            #expect(kept.count == 6)

            let hog = try DiskHog(path: disk.path + "/other-tenant")
            defer { hog.leave() }
            #expect(disk.availableBytes < 64 << 10, "the other tenant left \(disk.availableBytes) bytes free")
            // Every write needs more than the store holds: no eviction can make room.
            let big = randomBytes(count: 8 << 20)
            let bigDigest = Digest.of(big)
            let whole = try client.uploadWhole(big, digest: bigDigest, to: "faults/pushed")
            #expect(Self.judge(whole, bigDigest) == .refused, "monolithic upload on a full disk: \(whole.name) \(whole.outcome.summary)")
            try Self.expectEveryStoredBlobReadable(in: data, client, "after the refused monolithic upload")
            let fill = try client.get(large.all[0].path, keepingBody: true)
            #expect(Self.judge(fill, fillOf: large.all[0]) == .refused, "fill on a full disk: \(fill.summary)")
            try Self.expectEveryStoredBlobReadable(in: data, client, "after the refused fill")
            let session = try client.uploadInChunks(big, digest: bigDigest, chunks: 1, to: "faults/pushed")
            #expect(Self.judge(session, bigDigest) == .refused, "session upload on a full disk: \(session.name) \(session.outcome.summary)")
            try Self.expectEveryStoredBlobReadable(in: data, client, "after the refused session upload")
            // Refusing writes that cannot fit must not empty the store on the way out.
            #expect(Files.storedBlobs(in: data) == kept, "blobs evicted for writes that could never fit")
            // A stream of unknown length cannot be refused in advance: it evicts as it goes, and
            // still ends in a 507, with whatever is left readable.
            let streamed = try client.uploadInChunks(big, digest: bigDigest, chunks: 1, framing: .streamed, to: "faults/pushed")
            #expect(Self.judge(streamed, bigDigest) == .refused, "streamed upload on a full disk: \(streamed.name) \(streamed.outcome.summary)")
            try Self.expectEveryStoredBlobReadable(in: data, client, "after the refused streamed upload")

            hog.leave()
            #expect(server.isAlive)
            let again = try client.uploadWhole(big, digest: bigDigest, to: "faults/pushed")
            #expect(Self.judge(again, bigDigest) == .stored(bigDigest), "monolithic upload once space returned: \(again.outcome.summary)")
            let other = randomBytes(count: 8 << 20)
            let otherDigest = Digest.of(other)
            let chunked = try client.uploadInChunks(other, digest: otherDigest, chunks: 2, to: "faults/pushed")
            #expect(Self.judge(chunked, otherDigest) == .stored(otherDigest), "session upload once space returned: \(chunked.name) \(chunked.outcome.summary)")
            for blob in large.all {
                let filled = try client.get(blob.path, keepingBody: true)
                #expect(Self.judge(filled, fillOf: blob) == .stored(blob.digest), "fill once space returned: \(filled.summary)")
            }
            try Self.expectEveryStoredBlobReadable(in: data, client, "once space returned")
            #expect(server.stop() == .exited(0), "the log:\n\(server.log)")
            try Self.expectVerified(data)
        }

        // MARK: Writes and how they ended

        enum WriteResult: Equatable {
            /// 201 for an upload, or a whole 200 that hashed right for a fill.
            case stored(Digest)
            /// 507 with an OCI error body.
            case refused
            /// Anything else: another status, a body that is not an OCI error, a hang, a cut-off.
            case broken(String)
        }

        /// One write of a seeded mix: a monolithic upload, a session upload (two or three
        /// PATCHes, declared or streamed) or a fill of a cold upstream blob, each 3 to 8 MiB.
        private static func write(
            number: Int, with client: OCIBlobClient, upstream: UpstreamBlobs, random: inout SplitMix64
        ) throws -> (what: String, size: Int, result: WriteResult) {
            if number % 3 == 2, let blob = upstream.takeCold() {
                return ("fill of \(blob.digest)", blob.size, judge(try client.get(blob.path, keepingBody: true), fillOf: blob))
            }
            let bytes = randomBytes(count: random.number(in: (3 << 20)...(8 << 20)))
            let digest = Digest.of(bytes)
            if number % 3 == 1 {
                let framing: OCIBlobClient.Framing = random.next() % 2 == 0 ? .declared : .streamed
                let step = try client.uploadInChunks(bytes, digest: digest, chunks: random.number(in: 2...3), framing: framing, to: "faults/pushed")
                return ("\(framing) session upload of \(digest) (\(step.name))", bytes.count, judge(step, digest))
            }
            return ("monolithic upload of \(digest)", bytes.count, judge(try client.uploadWhole(bytes, digest: digest, to: "faults/pushed"), digest))
        }

        /// An upload returns an earlier step than its last only when that step failed.
        static func judge(_ step: OCIBlobClient.Step, _ digest: Digest) -> WriteResult {
            step.succeeded ? .stored(digest) : refusal(step.outcome, step.name)
        }

        static func judge(_ outcome: LoopbackExchange.Outcome, fillOf blob: UpstreamBlobs.Blob) -> WriteResult {
            if outcome.isComplete && !outcome.timedOut && outcome.status == 200 {
                return outcome.bodyDigest == blob.digest && outcome.bodyLength == blob.size
                    ? .stored(blob.digest) : .broken("a 200 of \(outcome.bodyLength) bytes hashing to \(outcome.bodyDigest)")
            }
            return refusal(outcome, "GET")
        }

        /// `.refused` for a whole 507 whose body is an OCI error; `.broken` otherwise.
        private static func refusal(_ outcome: LoopbackExchange.Outcome, _ what: String) -> WriteResult {
            guard outcome.isComplete, !outcome.timedOut, outcome.status == 507 else { return .broken("\(what): \(outcome.summary)") }
            guard outcome.text.hasPrefix(#"{"errors":[{"code":""#) else { return .broken("\(what): a 507 without an OCI error body: \(outcome.text)") }
            return .refused
        }

        // MARK: Reads and verification

        /// GETs `digest` through any repository (blobs are shared): a whole 200 of its bytes.
        private static func expectReadable(_ digest: String, in repository: String, _ client: OCIBlobClient, _ when: String) throws {
            let outcome = try client.get("/v2/\(repository)/blobs/\(digest)")
            #expect(outcome.isComplete && outcome.status == 200 && outcome.bodyDigest.description == digest, "\(when): reading \(digest): \(outcome.summary)")
        }

        private static func expectEveryStoredBlobReadable(in data: String, _ client: OCIBlobClient, _ when: String) throws {
            for digest in Files.storedBlobs(in: data) { try expectReadable(digest, in: "faults/any", client, when) }
        }

        /// With the server stopped: `blobcache verify` finds nothing to quarantine, and every
        /// file in the data directory is a whole blob or the store's own, no temporary.
        private static func expectVerified(_ data: String) throws {
            let verify = try ExternalTool.run(ServerProcess.executable, ["verify", "--data-dir", data])
            #expect(verify.succeeded, "blobcache verify: \(verify.output)")
            let audit = try DataDirectoryAudit(dataDirectory: data)
            #expect(audit.isClean, "\(audit.summary)")
        }
    }
}
