import BlobStore
import Glibc
import Synchronization
import TestSupport
import Testing
@testable import BlobServer

/// Misses routed through a cluster of in-process nodes on loopback addresses, over real HTTP:
/// one upstream GET per blob per cluster, members' requests never passed on, tags revalidated
/// by their owner, dead and dying peers passed over, the secret and membership enforced.
@Suite("Peers: routing misses through the cluster", .serialized)
struct PeerRoutingTests {
    static func randomBlob(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(state: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    static let tagManifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#.utf8)
    static let manifestType = "application/vnd.oci.image.manifest.v1+json"

    /// Blobs by digest, and the tag `lib/app:v1` pointing at `tagManifest`.
    static func upstream(_ blobs: [[UInt8]], chunkBytes: Int = 64 << 10) -> ScriptedUpstream {
        let byDigest = Dictionary(uniqueKeysWithValues: blobs.map { (StreamingHasher.digest(of: $0).description, $0) })
        let manifestDigest = StreamingHasher.digest(of: tagManifest)
        return ScriptedUpstream(chunkBytes: chunkBytes) { request in
            if request.path.hasSuffix("/manifests/v1") || request.path.hasSuffix("/manifests/\(manifestDigest)") {
                return .success(.init(status: 200, headers: [
                    ("Content-Type", manifestType), ("Docker-Content-Digest", manifestDigest.description),
                ], body: tagManifest))
            }
            if let digest = request.path.split(separator: "/").last, let bytes = byDigest[String(digest)] {
                return .success(.init(status: 200, body: bytes))
            }
            return .success(.init(status: 404))
        }
    }

    static func path(_ blob: [UInt8]) -> String { "/v2/lib/app/blobs/\(StreamingHasher.digest(of: blob))" }

    @Test("A blob pulled through every node costs one upstream GET; its owner sends it to the others")
    func oneUpstreamGetPerCluster() throws {
        let blob = Self.randomBlob(1 << 20, seed: 1)
        let cluster = try PeerNodes(count: 3, upstream: Self.upstream([blob]))
        let ranked = cluster.ranked(for: RendezvousKey(digest: StreamingHasher.digest(of: blob)))
        // Non-owners first, so each one's miss finds the owner cold too.
        for node in ranked.reversed() {
            let reply = try node.request("GET", Self.path(blob))
            #expect(reply.status == 200)
            #expect(reply.body == blob, "node \(node.address) sent other bytes")
        }
        #expect(cluster.upstream.count(.get, pathSuffix: Self.path(blob)) == 1)
        let owner = ranked[0]
        #expect(owner.peers.counters.snapshot.requests[.served] == 2)
        for node in ranked.dropFirst() {
            #expect(node.peers.counters.snapshot.fetches[.completed] == 1)
            #expect(node.store.contains(StreamingHasher.digest(of: blob)))
        }
    }

    @Test("A member's request is filled from the upstream, never passed to another peer; a non-member's is refused with 403")
    func peerRequestsAreNeverForwarded() throws {
        let blob = Self.randomBlob(256 << 10, seed: 2)
        let cluster = try PeerNodes(count: 3, upstream: Self.upstream([blob]))
        let ranked = cluster.ranked(for: RendezvousKey(digest: StreamingHasher.digest(of: blob)))
        let (owner, second, third) = (ranked[0], ranked[1], ranked[2])
        // The third node asks the second as a peer (bound to its own address, marked).
        let client = try third.peers.client(for: second.address)
        let response = try client.send(UpstreamRequest(
            method: .get, path: Self.path(blob), repository: "lib/app", headers: [(PeerRequestMark.field, "1")]))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try response.read(into: $0) }
            if count == 0 { break }
            received += chunk[0..<count]
        }
        response.finish()
        #expect(response.status == 200 && received == blob)
        #expect(second.peers.counters.snapshot.requests[.served] == 1)
        #expect(owner.peers.counters.snapshot.requests[.served, default: 0] == 0, "the second node passed a peer's request on")
        #expect(cluster.upstream.count(.get, pathSuffix: Self.path(blob)) == 1)

        let refused = try owner.request("GET", Self.path(blob), headers: [(PeerRequestMark.field, "1")])
        #expect(refused.status == 403)
        #expect(refused.text.contains("DENIED") && refused.text.contains("not a member"))
        #expect(owner.peers.counters.snapshot.requests[.refused] == 1)
    }

    @Test("A tag is revalidated upstream once per TTL for the whole cluster, by the owner of ns/name:tag")
    func tagsRevalidateThroughTheirOwner() throws {
        let cluster = try PeerNodes(count: 3, upstream: Self.upstream([])) { $0.tagTTLSeconds = 60 }
        for node in cluster.nodes {
            let reply = try node.request("GET", "/v2/lib/app/manifests/v1", headers: [("Accept", Self.manifestType)])
            #expect(reply.status == 200 && reply.body == Self.tagManifest)
        }
        #expect(cluster.upstream.count(.head, pathSuffix: "/manifests/v1") == 1)
        #expect(cluster.upstream.count(.get, pathSuffix: "/manifests/\(StreamingHasher.digest(of: Self.tagManifest))") == 1)
        for node in cluster.nodes { node.advanceClock(by: 61) }
        for node in cluster.nodes {
            let reply = try node.request("GET", "/v2/lib/app/manifests/v1", headers: [("Accept", Self.manifestType)])
            #expect(reply.status == 200 && reply.body == Self.tagManifest)
        }
        #expect(cluster.upstream.count(.head, pathSuffix: "/manifests/v1") == 2, "one revalidation per TTL, not one per node")
        #expect(cluster.upstream.count(.get, pathSuffix: "/manifests/v1") == 0)
    }

    @Test("A dead owner costs one refused connect; within its backoff it is not asked again")
    func deadOwnerIsPassedOver() throws {
        let blobs = (0..<40).map { Self.randomBlob(64 << 10, seed: 100 + UInt64($0)) }
        let cluster = try PeerNodes(count: 3, upstream: Self.upstream(blobs))
        let dead = cluster.nodes[0]
        let asker = cluster.nodes[1]
        let owned = blobs.filter { cluster.ranked(for: RendezvousKey(digest: StreamingHasher.digest(of: $0)))[0] === dead }
        try #require(owned.count >= 2, "no two of 40 blobs owned by one node of three")
        dead.stop()
        let start = monotonicSeconds()
        let first = try asker.request("GET", Self.path(owned[0]))
        #expect(first.status == 200 && first.body == owned[0])
        #expect(monotonicSeconds() - start < 2, "a refused connect must not cost a long timeout")
        #expect(asker.peers.counters.snapshot.fetches[.failed] == 1)
        let second = try asker.request("GET", Self.path(owned[1]))
        #expect(second.status == 200 && second.body == owned[1])
        #expect(asker.peers.counters.snapshot.fetches[.failed] == 1, "the dead owner was asked again within its backoff")
        // Readiness is the local store's alone: every peer down changes nothing.
        cluster.nodes[2].stop()
        #expect(try asker.request("GET", "/readyz").status == 200)
    }

    @Test("An owner that dies mid-transfer: the requester goes on from the next source with Range, and its client gets every byte")
    func ownerDyingMidTransfer() throws {
        let blob = Self.randomBlob(2 << 20, seed: 3)
        let upstream = Self.upstream([blob], chunkBytes: 16 << 10)
        let cluster = try PeerNodes(count: 2, upstream: upstream)
        let ranked = cluster.ranked(for: RendezvousKey(digest: StreamingHasher.digest(of: blob)))
        let (owner, requester) = (ranked[0], ranked[1])
        // The owner's upstream body stops at 512 KiB until the gate opens.
        upstream.pauseAfter.store(512 << 10, ordering: .relaxed)
        let reply = Mutex<Result<RawClient.Reply, any Error>?>(nil)
        let requesterAddress = requester.address
        let client = SystemThread(name: "peer-client") {
            let result = Result { try PeerNodes.request(requesterAddress, "GET", Self.path(blob)) }
            reply.withLock { $0 = result }
        }
        #expect(MirrorFillTests.eventually(5) { upstream.gate.waiting == 1 }, "the owner's fill did not start")
        usleep(200_000)
        owner.stop()
        upstream.pauseAfter.store(-1, ordering: .relaxed)
        upstream.gate.open()
        client.join()
        let result = try #require(reply.withLock { $0 })
        let answer = try result.get()
        #expect(answer.status == 200)
        #expect(answer.body == blob, "the client got \(answer.body.count) of \(blob.count) bytes, or other bytes")
        #expect(requester.peers.counters.snapshot.fetches[.failed] == 1)
        #expect(upstream.requests.last?.headers.contains { $0.name == "Range" && $0.value.hasPrefix("bytes=") } == true)
        #expect(MirrorFillTests.eventually(5) { requester.store.contains(StreamingHasher.digest(of: blob)) })
    }

    @Test("With a shared secret the cluster works; a marked request without it, or from a stranger, is refused")
    func secretAndMembership() throws {
        let blob = Self.randomBlob(128 << 10, seed: 4)
        let secret = "k8s-peer-secret-0123456789"
        let cluster = try PeerNodes(count: 2, upstream: Self.upstream([blob]), secret: secret)
        let ranked = cluster.ranked(for: RendezvousKey(digest: StreamingHasher.digest(of: blob)))
        let reply = try ranked[1].request("GET", Self.path(blob))
        #expect(reply.status == 200 && reply.body == blob)
        #expect(ranked[0].peers.counters.snapshot.requests[.served] == 1)

        let router = ranked[0].peers
        guard case .refused(let reason) = router.requester(mark: "1", from: ranked[1].address) else {
            Issue.record("a request without the secret was accepted")
            return
        }
        #expect(reason.contains("secret"))
        guard case .member(let member) = router.requester(mark: secret, from: ranked[1].address.with(port: 40000)) else {
            Issue.record("a member with the secret, from an ephemeral port, was refused")
            return
        }
        #expect(member == ranked[1].address)
        guard case .refused = router.requester(mark: secret, from: try SocketAddress(parsing: "127.0.0.99:40000")) else {
            Issue.record("a stranger with the secret was accepted")
            return
        }
    }
}
