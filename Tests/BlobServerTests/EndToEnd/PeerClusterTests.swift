import BlobStore
import Testing
import TestSupport
@testable import BlobServer

extension EndToEnd {
    /// Real `blobcache serve` nodes on 127.0.0.2, .3, … all on one port, finding each other
    /// through dnsmasq or a static list, in front of docker-registry: the peers feature from
    /// the outside. Each node ranks the members by rendezvous hashing on the digest, and the
    /// tests compute the same ranking to know which node owns a blob.
    @Suite("EndToEnd: a cluster of peers on loopback", .serialized)
    struct PeerClusterTests {
        private static let repository = "test/peers"
        private static let fanout = 8

        private static func blobPath(_ digest: Digest) -> String { "/v2/\(repository)/blobs/\(digest)" }

        /// A dnsmasq hosts file naming 127.0.0.N for each N in `hosts` as `peers.test`.
        private static func peersTestHosts(_ hosts: ClosedRange<Int>) -> String {
            hosts.map { "127.0.0.\($0) peers.test\n" }.joined()
        }

        private static func memberCounts(_ cluster: PeerCluster) throws -> [Double?] {
            try cluster.nodes.map { try $0.metric("blobcache_peer_members") }
        }

        private static func served(_ node: PeerClusterNode) throws -> Double {
            try node.metric("blobcache_peer_requests_total", labels: #"outcome="served""#) ?? 0
        }

        /// Eight nodes that found each other through DNS, each asked for the same cold 48 MiB layer
        /// at once: the owner fetches it upstream once and streams it to the seven others while
        /// it arrives, and every node ends up with the layer on disk.
        @Test func eightNodesPullingOneLayerAtOnceCostOneUpstreamGet() throws {
            let registry = try DockerRegistry.start()
            let size = 48 << 20
            let layer = try registry.uploadRandomBlob(size: size, to: Self.repository)
            let path = Self.blobPath(layer)
            let cluster = try PeerCluster("e2e-peers-eight", hosts: 2...9)
            let dns = try DNSTestServer(hosts: Self.peersTestHosts(2...9))
            defer { dns.stop() }
            for host in 2...9 {
                try cluster.startNode(host, arguments: [
                    "--upstream", registry.baseURL, "--peers", "peers.test:\(cluster.port)", "--dns-server", "\(dns.address)",
                    "--peer-fanout", "\(Self.fanout)",
                ])
            }
            let everyoneKnowsEveryone = try PeerCluster.eventually(within: 10) { try Self.memberCounts(cluster).allSatisfy { $0 == 7 } }
            try #require(everyoneKnowsEveryone, "blobcache_peer_members: \(String(describing: try? Self.memberCounts(cluster)))")

            let outcomes = try ClusterDownloads.run(cluster.nodes.map { ClusterDownloads.Request(node: $0.address, path: path) })

            for (node, outcome) in zip(cluster.nodes, outcomes) {
                #expect(outcome.status == 200, "\(node.address): \(outcome.status)")
                #expect(outcome.isComplete && outcome.bodyLength == size, "\(node.address) sent \(outcome.bodyLength) of \(size) bytes")
                #expect(outcome.bodyDigest == layer, "\(node.address) sent other bytes")
            }
            // The last bytes go out when the digest matched; each node's commit follows them.
            let everyoneStored = PeerCluster.eventually(within: 10) {
                cluster.nodes.allSatisfy { Files.storedBlobs(in: $0.dataDirectory).contains("\(layer)") }
            }
            #expect(everyoneStored, "nodes without the layer: \(cluster.nodes.filter { !Files.storedBlobs(in: $0.dataDirectory).contains("\(layer)") }.map(\.address))")
            let owner = try #require(cluster.node(at: PeerCluster.owner(of: layer, among: cluster.nodes.map(\.address))))
            #expect(try Self.served(owner) >= 1, "the owner \(owner.address) served no peer")
            for node in cluster.nodes {
                let peak = try node.metric("blobcache_peer_sends_peak")
                #expect(peak != nil && peak! <= Double(Self.fanout), "\(node.address): blobcache_peer_sends_peak \(String(describing: peak))")
            }
            registry.stop()
            let upstreamGets = registry.requests("GET", path)
            #expect(upstreamGets.count == 1, "upstream GETs of the layer: \(upstreamGets)\n\(cluster.logs)")
            for node in cluster.nodes { #expect(node.stop() == .exited(0), "\(node.address)") }
        }

        /// The owner dies (SIGKILL) while it streams a slow fill to the seven others: they pass
        /// it over to the next node in the ranking, which resumes upstream with a Range, and no
        /// client notices.
        @Test func whenTheOwnerIsKilledMidTransferEveryClientStillGetsTheLayer() throws {
            let registry = try DockerRegistry.start()
            let size = 48 << 20
            let layer = try registry.uploadRandomBlob(size: size, to: Self.repository)
            let path = Self.blobPath(layer)
            // 48 MiB at 16 MiB/s: the owner's fill takes 3 s, time enough to kill it in the middle.
            let proxy = try ThrottledProxy(to: try SocketAddress(parsing: registry.authority), bytesPerSecond: Double(16 << 20))
            defer { proxy.stop() }
            let cluster = try PeerCluster("e2e-peers-owner-killed", hosts: 2...9)
            for host in 2...9 {
                try cluster.startNode(host, arguments: ["--upstream", proxy.baseURL, "--peers", cluster.peerList(2...9)])
            }
            let owner = try #require(cluster.node(at: PeerCluster.owner(of: layer, among: cluster.nodes.map(\.address))))
            let others = cluster.nodes.filter { $0 !== owner }

            let start = monotonicSeconds()
            var killedAfter: Double?
            let outcomes = try ClusterDownloads.run(others.map { ClusterDownloads.Request(node: $0.address, path: path) }) { progress in
                guard killedAfter == nil, progress.contains(where: { $0 >= size / 8 }) || monotonicSeconds() - start >= 1 else { return }
                owner.kill()
                killedAfter = monotonicSeconds() - start
            }

            #expect(killedAfter != nil, "the transfers ended before the owner was killed")
            for (node, outcome) in zip(others, outcomes) {
                #expect(outcome.status == 200, "\(node.address): \(outcome.status)")
                #expect(outcome.isComplete && outcome.bodyLength == size, "\(node.address) sent \(outcome.bodyLength) of \(size) bytes")
                #expect(outcome.bodyDigest == layer, "\(node.address) sent other bytes")
            }
            registry.stop()
            // The owner's GET, cut when it died, and one more by the node that took over.
            let upstreamGets = registry.requests("GET", path)
            #expect(upstreamGets.count <= 2, "upstream GETs of the layer: \(upstreamGets)\n\(cluster.logs)")
            for node in others { #expect(node.stop() == .exited(0), "\(node.address)") }
        }

        /// A node started after the others is in everyone's membership at the next DNS refresh,
        /// and from then on owns its share of the blobs: a pull through another node goes to it.
        @Test func aLateJoinerIsFoundWithinSecondsAndServesTheBlobsItOwns() throws {
            let registry = try DockerRegistry.start()
            let cluster = try PeerCluster("e2e-peers-late-joiner", hosts: 2...9)
            let joiner = cluster.address(9)
            // Seeded bytes, tried until the joiner ranks first among all eight for them.
            let blob = try #require((UInt64(1)...100).lazy
                .map { pseudoRandomBytes(count: 256 << 10, seed: $0) }
                .first { PeerCluster.owner(of: Digest.of($0), among: (2...9).map(cluster.address)) == joiner })
            let digest = try registry.upload(blob, to: Self.repository)
            let path = Self.blobPath(digest)
            let dns = try DNSTestServer(hosts: Self.peersTestHosts(2...8))
            defer { dns.stop() }
            let arguments = [
                "--upstream", registry.baseURL, "--peers", "peers.test:\(cluster.port)", "--dns-server", "\(dns.address)",
                "--peer-refresh", "1s",
            ]
            for host in 2...8 { try cluster.startNode(host, arguments: arguments) }
            let sevenKnowEachOther = try PeerCluster.eventually(within: 10) { try Self.memberCounts(cluster).allSatisfy { $0 == 6 } }
            try #require(sevenKnowEachOther, "blobcache_peer_members: \(String(describing: try? Self.memberCounts(cluster)))")

            try dns.replaceHosts(Self.peersTestHosts(2...9))
            let newcomer = try cluster.startNode(9, arguments: arguments)
            let eightKnowEachOther = try PeerCluster.eventually(within: 5) { try Self.memberCounts(cluster).allSatisfy { $0 == 7 } }
            try #require(eightKnowEachOther, "5 s after the joiner started, blobcache_peer_members: \(String(describing: try? Self.memberCounts(cluster)))")

            let outcome = try cluster.nodes[0].get(path)
            #expect(outcome.status == 200 && outcome.isComplete, "\(cluster.nodes[0].address): \(outcome.status), \(outcome.bodyLength) bytes")
            #expect(outcome.bodyDigest == digest)
            #expect(try PeerCluster.eventually(within: 5) { try Self.served(newcomer) >= 1 }, "the joiner served no peer\n\(cluster.logs)")
            registry.stop()
            let upstreamGets = registry.requests("GET", path)
            #expect(upstreamGets.count == 1, "upstream GETs of the blob: \(upstreamGets)")
            for node in cluster.nodes { #expect(node.stop() == .exited(0), "\(node.address)") }
        }

        /// A peer that answers with the right length and the wrong bytes never gets a wrong body
        /// to a client: the mismatch cuts the client off, the liar is passed over, and the next
        /// GET gets the right bytes from upstream.
        @Test func aPeerServingWrongBytesIsCaughtAndTheBlobRefilledFromUpstream() throws {
            let registry = try DockerRegistry.start()
            let size = 4 << 20
            let layer = try registry.uploadRandomBlob(size: size, to: Self.repository)
            let path = Self.blobPath(layer)
            let cluster = try PeerCluster("e2e-peers-liar", hosts: 2...41)
            let honest = cluster.address(2)
            // The first address that outranks the honest node for the layer: it asks the liar first.
            let liarAddress = try #require((10...41).map(cluster.address).first { PeerCluster.owner(of: layer, among: [honest, $0]) == $0 })
            let liar = try LyingPeer(on: liarAddress, wrongBytes: pseudoRandomBytes(count: size, seed: 7))
            defer { liar.stop() }
            let node = try cluster.startNode(2, arguments: ["--upstream", registry.baseURL, "--peers", "\(honest),\(liarAddress)"])

            // The node streams the liar's bytes while it hashes them: the client must lose its
            // connection before the last byte, never see a clean end of a wrong body.
            let first = try ClusterDownloads.run([ClusterDownloads.Request(node: honest, path: path)], timeoutSeconds: 15)[0]
            #expect(!first.isComplete || first.bodyDigest == layer, "the first client got the liar's whole body: \(first.status), \(first.bodyLength) bytes")
            var attempts = 0
            let rightBytesCame = try PeerCluster.eventually(within: 10) {
                attempts += 1
                let retry = try ClusterDownloads.run([ClusterDownloads.Request(node: honest, path: path)], timeoutSeconds: 5)[0]
                return retry.status == 200 && retry.isComplete && retry.bodyDigest == layer
            }
            #expect(rightBytesCame, "no GET got the right bytes in \(attempts) tries\n\(node.log)")
            #expect(try node.metric("blobcache_mirror_digest_mismatches_total") ?? 0 >= 1)
            #expect(try node.metric("blobcache_peer_fetches_total", labels: #"outcome="failed""#) ?? 0 >= 1)
            #expect(!liar.requestLines.isEmpty, "the liar was never asked")
            #expect(node.stop() == .exited(0))
            registry.stop()
            #expect(!registry.requests("GET", path).isEmpty, "the node never refilled from upstream")
        }
    }
}
