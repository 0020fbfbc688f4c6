import BlobStore
import Glibc
import Synchronization
import TestSupport
import Testing
@testable import BlobServer

/// Blob fills through a real server and an in-process upstream: single flight, streaming from
/// the growing file (ranges included), the held-back last byte, and what a lying or broken
/// upstream leads to.
@Suite struct MirrorFillTests {
    static func blobUpstream(_ blobs: [Digest: [UInt8]], chunkBytes: Int = 64 << 10) -> ScriptedUpstream {
        ScriptedUpstream(chunkBytes: chunkBytes) { request in
            for (digest, bytes) in blobs where request.path.hasSuffix("/blobs/\(digest)") {
                return .success(.init(status: 200, body: bytes))
            }
            return .success(.init(status: 404))
        }
    }

    /// Polls `condition` for up to `seconds`.
    static func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while monotonicSeconds() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test("32 cold clients and a range client share one upstream GET; every body is right and the range is 206")
    func singleFlight() throws {
        let blob = pseudoRandomBytes(count: 6 << 20, seed: 41)
        let digest = StreamingHasher.digest(of: blob)
        let upstream = Self.blobUpstream([digest: blob])
        upstream.pauseAfter.store(2 << 20, ordering: .relaxed)
        let harness = try MirrorHarness(upstream: upstream)
        let results = Mutex<[Int: Result<RawClient.Reply, Error>]>([:])
        let port = harness.port
        var threads: [SystemThread] = []
        for index in 0...32 {
            threads.append(SystemThread(name: "client\(index)") {
                let range = index == 32 ? [("Range", "bytes=1048576-")] : []
                let result = Result { try MirrorHarness.request(port: port, "GET", "/v2/lib/app/blobs/\(digest)", headers: range) }
                results.withLock { $0[index] = result }
            })
        }
        // The fill stops at 2 MiB until every client has joined it.
        #expect(Self.eventually { harness.mirror.counters.snapshot.fillWaiters == 33 })
        #expect(Self.eventually { upstream.gate.waiting == 1 })
        upstream.gate.open()
        for thread in threads { thread.join() }
        #expect(upstream.count(.get, pathSuffix: "/blobs/\(digest)") == 1)
        let replies = try results.withLock { $0 }.sorted { $0.key < $1.key }.map { try $0.value.get() }
        for reply in replies.prefix(32) {
            #expect(reply.status == 200)
            #expect(reply.body == blob)
        }
        let ranged = replies[32]
        #expect(ranged.status == 206)
        #expect(ranged.header("Content-Range") == "bytes 1048576-\(blob.count - 1)/\(blob.count)")
        #expect(ranged.body == Array(blob[1_048_576...]))
        // The last bytes went out when the digest matched; the commit follows.
        #expect(Self.eventually { harness.store.contains(digest) })
        let counts = harness.mirror.counters.snapshot
        #expect(counts.fillsCompleted == 1 && counts.fillsInFlight == 0 && counts.fillWaiters == 0)
        // Now it is a hit: no new upstream request.
        #expect(try harness.request("GET", "/v2/lib/app/blobs/\(digest)").body == blob)
        #expect(upstream.requests.count == 1)
        let after = harness.mirror.counters.snapshot
        #expect(after.misses[.blob] == 33 && after.hits[.blob] == 1)
    }

    @Test("The first bytes go out before the upstream finishes, and the last byte waits for the digest")
    func streamsAndHoldsBackTheLastByte() throws {
        let blob = pseudoRandomBytes(count: 1 << 20, seed: 42)
        let digest = StreamingHasher.digest(of: blob)
        let upstream = Self.blobUpstream([digest: blob])
        upstream.pauseBeforeEnd.store(true, ordering: .relaxed)
        let harness = try MirrorHarness(upstream: upstream)
        let client = try RawClient(port: harness.port, timeoutSeconds: 1)
        try client.send("GET /v2/lib/app/blobs/\(digest) HTTP/1.1\r\nHost: test\r\n\r\n")
        // Every byte is on the file, but the upstream has not ended the body: the digest is
        // not checked yet, so the client has all but the last byte.
        var received = receiveUntilQuiet(client.socket)
        let headEnd = try #require(find([13, 10, 13, 10], in: received)) + 4
        #expect(String(decoding: received[..<headEnd], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(received.count - headEnd == blob.count - 1)
        #expect(!harness.store.contains(digest))
        upstream.gate.open()
        received += receiveUntilQuiet(client.socket)
        #expect(Array(received[headEnd...]) == blob)
    }

    @Test("A lying upstream: no client finishes cleanly, nothing is stored, the mismatch is counted and the next request asks again")
    func lyingUpstream() throws {
        let claimed = pseudoRandomBytes(count: 700_000, seed: 43)
        let digest = StreamingHasher.digest(of: claimed)
        let lie = pseudoRandomBytes(count: claimed.count, seed: 44)
        let upstream = ScriptedUpstream { _ in .success(.init(status: 200, body: lie)) }
        upstream.pauseBeforeEnd.store(true, ordering: .relaxed)
        let harness = try MirrorHarness(upstream: upstream)
        let outcomes = Mutex<[String]>([])
        let port = harness.port
        var threads: [SystemThread] = []
        for index in 0..<4 {
            threads.append(SystemThread(name: "liar\(index)") {
                let outcome: String
                do {
                    let reply = try MirrorHarness.request(port: port, "GET", "/v2/lib/app/blobs/\(digest)")
                    outcome = "clean \(reply.status) \(reply.body.count)"
                } catch {
                    outcome = "cut off"
                }
                outcomes.withLock { $0.append(outcome) }
            })
        }
        #expect(Self.eventually { harness.mirror.counters.snapshot.fillWaiters == 4 })
        upstream.gate.open()
        for thread in threads { thread.join() }
        #expect(outcomes.withLock { $0 } == Array(repeating: "cut off", count: 4))
        #expect(!harness.store.contains(digest))
        #expect(harness.mirror.counters.snapshot.digestMismatches == 1)
        #expect(directoryEntries(harness.directory.data + "/tmp").isEmpty)
        // The next request starts a new fill (which fails the same way).
        #expect(throws: (any Error).self) { try harness.request("GET", "/v2/lib/app/blobs/\(digest)") }
        #expect(upstream.count(.get, pathSuffix: "/blobs/\(digest)") == 2)
    }

    @Test("A body that breaks or ends short cuts the clients off and stores nothing")
    func brokenBodies() throws {
        let blob = pseudoRandomBytes(count: 500_000, seed: 45)
        let digest = StreamingHasher.digest(of: blob)
        let short = pseudoRandomBytes(count: 300_000, seed: 46)
        let shortDigest = StreamingHasher.digest(of: short)
        let emptyLie = StreamingHasher.digest(of: [0x42])
        let upstream = ScriptedUpstream { request in
            if request.path.hasSuffix("\(digest)") { return .success(.init(status: 200, body: blob, breakAfter: 200_000)) }
            // Nothing at all for a digest of one byte: no clean empty 200 may come of it.
            if request.path.hasSuffix("\(emptyLie)") { return .success(.init(status: 200, body: [])) }
            // Announces more than it sends.
            return .success(.init(status: 200, body: short, announcedLength: .some(UInt64(short.count + 10))))
        }
        let harness = try MirrorHarness(upstream: upstream)
        #expect(throws: (any Error).self) { try harness.request("GET", "/v2/lib/app/blobs/\(digest)") }
        #expect(throws: (any Error).self) { try harness.request("GET", "/v2/lib/app/blobs/\(shortDigest)") }
        #expect(try harness.request("GET", "/v2/lib/app/blobs/\(emptyLie)").status == 502)
        #expect(!harness.store.contains(digest) && !harness.store.contains(shortDigest) && !harness.store.contains(emptyLie))
        #expect(Self.eventually { harness.mirror.counters.snapshot.fillsFailed == 3 })
    }

    @Test("An upstream that gives no length is read whole, then served from the store")
    func unknownLength() throws {
        let blob = pseudoRandomBytes(count: 300_000, seed: 47)
        let digest = StreamingHasher.digest(of: blob)
        let upstream = ScriptedUpstream { _ in .success(.init(status: 200, body: blob, announcedLength: .some(nil))) }
        let harness = try MirrorHarness(upstream: upstream)
        let reply = try harness.request("GET", "/v2/lib/app/blobs/\(digest)", headers: [("Range", "bytes=-100")])
        #expect(reply.status == 206)
        #expect(reply.body == Array(blob.suffix(100)))
        #expect(harness.store.contains(digest))
    }

    @Test("A client that goes away does not cancel the fill")
    func disconnectKeepsFilling() throws {
        let blob = pseudoRandomBytes(count: 2 << 20, seed: 48)
        let digest = StreamingHasher.digest(of: blob)
        let upstream = Self.blobUpstream([digest: blob])
        upstream.pauseAfter.store(1 << 20, ordering: .relaxed)
        let harness = try MirrorHarness(upstream: upstream)
        do {
            let client = try RawClient(port: harness.port, timeoutSeconds: 1)
            try client.send("GET /v2/lib/app/blobs/\(digest) HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(receiveUntilQuiet(client.socket).count > 1000)
        }
        upstream.gate.open()
        #expect(Self.eventually { harness.store.contains(digest) })
        #expect(try harness.request("GET", "/v2/lib/app/blobs/\(digest)").body == blob)
        #expect(upstream.requests.count == 1)
    }

    @Test("HEAD of an uncached blob costs one upstream HEAD and no download; 404s pass through")
    func headAndAbsence() throws {
        let blob = pseudoRandomBytes(count: 10_000, seed: 49)
        let digest = StreamingHasher.digest(of: blob)
        let missing = StreamingHasher.digest(of: [1, 2, 3])
        let harness = try MirrorHarness(upstream: Self.blobUpstream([digest: blob]))
        let head = try harness.request("HEAD", "/v2/lib/app/blobs/\(digest)")
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "10000")
        #expect(head.header("Docker-Content-Digest") == digest.description)
        #expect(harness.upstream.count(.head, pathSuffix: "/blobs/\(digest)") == 1)
        #expect(harness.upstream.count(.get, pathSuffix: "/blobs/\(digest)") == 0)
        #expect(!harness.store.contains(digest))
        let absent = try harness.request("GET", "/v2/lib/app/blobs/\(missing)")
        #expect(absent.status == 404)
        #expect(absent.text.contains("BLOB_UNKNOWN"))
        #expect(try harness.request("HEAD", "/v2/lib/app/blobs/\(missing)").status == 404)
    }

    @Test("ns routing: docker.io gets library/ for single-segment names, an unmapped registry gets 404, ns is echoed")
    func namespaceRouting() throws {
        let blob = pseudoRandomBytes(count: 5000, seed: 50)
        let digest = StreamingHasher.digest(of: blob)
        let harness = try MirrorHarness(upstream: Self.blobUpstream([digest: blob]))
        let hub = try harness.request("GET", "/v2/alpine/blobs/\(digest)?ns=docker.io")
        #expect(hub.status == 200)
        #expect(hub.header("OCI-Namespace") == "docker.io")
        #expect(harness.upstream.requests.last?.path == "/v2/library/alpine/blobs/\(digest)")
        #expect(harness.upstream.requests.last?.repository == "library/alpine")
        let unmapped = try harness.request("GET", "/v2/alpine/blobs/\(digest)?ns=quay.io")
        #expect(unmapped.status == 404)
        #expect(unmapped.header("OCI-Namespace") == "quay.io")
        #expect(harness.upstream.requests.count == 1)
    }

    @Test("Pushes are refused on a mirror unless mirror_push is set")
    func pushesRefused() throws {
        let refusing = try MirrorHarness(upstream: Self.blobUpstream([:]))
        let refused = try refusing.request("POST", "/v2/lib/app/blobs/uploads/", headers: [("Content-Length", "0")])
        #expect(refused.status == 405)
        #expect(refused.text.contains("UNSUPPORTED"))
        let taking = try MirrorHarness(upstream: Self.blobUpstream([:])) { $0.mirrorPush = true }
        #expect(try taking.request("POST", "/v2/lib/app/blobs/uploads/", headers: [("Content-Length", "0")]).status == 202)
    }
}

/// Reads from `socket` until a receive times out (the client's timeout), returning the bytes.
func receiveUntilQuiet(_ socket: Int32) -> [UInt8] {
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return received }
        received += chunk[..<count]
    }
}

func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
        if Array(haystack[index..<index + needle.count]) == needle { return index }
    }
    return nil
}
