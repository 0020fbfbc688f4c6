import BlobStore
import Glibc
import TestSupport
@testable import BlobServer

/// A cluster of blobcache nodes in this process: each a server on its own loopback address
/// (127.0.0.20, .21, … on one port), with a mirror of the same in-process upstream and a static
/// peer list naming them all, so they route misses to each other over real HTTP. Each node's
/// clock moves by hand. Stopped at the end: servers, then mirrors and their peers.
final class PeerNodes {
    final class Node {
        let address: SocketAddress
        let directory: StoreTestDirectory
        let store: BlobStore
        let mirror: Mirror
        let server: HTTPServer
        let clock = TestClock()
        var peers: PeerRouter { mirror.peers! }
        private(set) var isStopped = false

        init(address: SocketAddress, all: [SocketAddress], upstream: ScriptedUpstream, secret: String?, timing: PeerRouter.Timing,
             configure: (inout ServerConfiguration) -> Void) throws {
            self.address = address
            directory = StoreTestDirectory("peer-node")
            store = try BlobStore(directory: directory.data, options: testOptions())
            var configuration = ServerConfiguration.defaults
            configuration.listen = address
            configuration.upstreams = [try UpstreamMapping(parsing: "http://upstream.test")]
            configuration.memoryBudget = 128 << 20
            configure(&configuration)
            let logger = Logger(level: .error)
            let identity = LocalPeerIdentity(listen: address, podIP: nil)
            let membership = try PeerMembership(source: .staticList(all), nameserver: nil, identity: identity, logger: logger)
            let router = PeerRouter(
                membership: membership, selfAddress: address, fanout: configuration.peerFanout, secret: secret, timing: timing, logger: logger)
            let clock = self.clock
            mirror = try Mirror(
                store: store, configuration: configuration, logger: logger, makeClient: { _, _ in upstream }, peers: router,
                clock: { clock.seconds.load(ordering: .relaxed) })
            let metrics = ServerMetrics(loops: 1)
            let handler = try RegistryHandler(store: store, configuration: configuration, metrics: metrics, mirror: mirror)
            server = try HTTPServer(
                address: address, store: store, handler: handler, metrics: metrics,
                limits: ServerLimits(budget: MemoryBudget(total: 128 << 20), loops: 1), loops: 1, logger: logger)
            server.start()
        }

        /// Stops serving, as a node that died: connections to it are refused from now on.
        func stop() {
            guard !isStopped else { return }
            isStopped = true
            server.stop(drainSeconds: 1)
        }

        deinit {
            stop()
            mirror.stop()
            try? store.close()
        }

        /// One request on a new connection, from this test (127.0.0.1, not a member).
        func request(_ method: String, _ target: String, headers: [(String, String)] = []) throws -> RawClient.Reply {
            try PeerNodes.request(address, method, target, headers: headers)
        }

        func advanceClock(by seconds: UInt64) {
            clock.seconds.add(seconds, ordering: .relaxed)
        }
    }

    let nodes: [Node]
    let upstream: ScriptedUpstream

    /// `count` nodes on 127.0.0.20… sharing `upstream`.
    init(count: Int, upstream: ScriptedUpstream, secret: String? = nil, timing: PeerRouter.Timing = PeerRouter.Timing(),
         configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        let port = try Self.portFreeOnEveryAddress(count: count)
        let addresses = try (0..<count).map { try SocketAddress(parsing: "127.0.0.\(20 + $0):\(port)") }
        self.upstream = upstream
        nodes = try addresses.map {
            try Node(address: $0, all: addresses, upstream: upstream, secret: secret, timing: timing, configure: configure)
        }
    }

    /// One request to `address` on a new connection, from this test (127.0.0.1: not a member).
    static func request(_ address: SocketAddress, _ method: String, _ target: String, headers: [(String, String)] = []) throws -> RawClient.Reply {
        let client = try RawClient(host: String(address.description.split(separator: ":")[0]), port: address.port)
        let fields = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        try client.send("\(method) \(target) HTTP/1.1\r\nHost: test\r\n\(fields)\r\n")
        return try client.readReply(isHead: method == "HEAD")
    }

    /// The nodes ordered by rank for `key`, owner first (as every node computes it).
    func ranked(for key: RendezvousKey) -> [Node] {
        let ranking = RendezvousRanking(members: nodes.map(\.address))
        return ranking.ranked(for: key, limit: nodes.count).map { address in nodes.first { $0.address == address }! }
    }

    /// A port that 127.0.0.20… are all free on (bound and released on each).
    private static func portFreeOnEveryAddress(count: Int) throws -> UInt16 {
        func binds(_ text: String) -> UInt16? {
            do {
                let socket = try ListeningSocket(binding: try SocketAddress(parsing: text), reusePort: false)
                return socket.address.port
            } catch {
                return nil
            }
        }
        for _ in 0..<20 {
            guard let port = binds("127.0.0.20:0") else { continue }
            if (1..<max(count, 1)).allSatisfy({ binds("127.0.0.\(20 + $0):\(port)") != nil }) { return port }
        }
        throw EndToEndFailure("no port free on 127.0.0.20-\(19 + count)")
    }
}
