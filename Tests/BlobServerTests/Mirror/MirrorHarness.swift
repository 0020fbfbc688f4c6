import BlobStore
import Glibc
import Synchronization
import TestSupport
@testable import BlobServer

/// A blobcache server in-process, mirroring a `ScriptedUpstream` for every registry (`ns`) the
/// test maps, with a clock the test moves. Stopped at the end: server, then mirror pools.
final class MirrorHarness {
    let directory = StoreTestDirectory("mirror")
    let store: BlobStore
    /// The in-process upstream, when the harness was given one.
    let scripted: ScriptedUpstream?
    var upstream: ScriptedUpstream { scripted! }
    let mirror: Mirror
    let handler: RegistryHandler
    let server: HTTPServer
    let metrics = ServerMetrics(loops: 2)
    /// Wall-clock seconds the mirror sees.
    let clock = TestClock()
    var port: UInt16 { server.address.port }

    convenience init(
        upstream: ScriptedUpstream, mappings: [String] = ["http://upstream.test", "docker.io=http://hub.test"],
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws {
        try self.init(client: upstream, scripted: upstream, mappings: mappings, configure: configure)
    }

    /// A mirror of `client` (a real `UpstreamClient`, say) for every mapping.
    init(
        client: any UpstreamFetching, scripted: ScriptedUpstream? = nil,
        mappings: [String] = ["http://upstream.test", "docker.io=http://hub.test"],
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws {
        self.scripted = scripted
        let upstream = client
        store = try BlobStore(directory: directory.data, options: testOptions())
        var configuration = ServerConfiguration.defaults
        configuration.upstreams = try mappings.map { try UpstreamMapping(parsing: $0) }
        configuration.memoryBudget = 128 << 20
        configure(&configuration)
        let clock = self.clock
        mirror = try Mirror(
            store: store, configuration: configuration, logger: Logger(level: .error),
            makeClient: { _, _ in upstream }, clock: { clock.seconds.load(ordering: .relaxed) })
        handler = try RegistryHandler(store: store, configuration: configuration, metrics: metrics, mirror: mirror)
        server = try HTTPServer(
            address: try SocketAddress(parsing: "127.0.0.1:0"), store: store, handler: handler, metrics: metrics,
            limits: ServerLimits(budget: MemoryBudget(total: 128 << 20), loops: 2), loops: 2, logger: Logger(level: .error))
        server.start()
    }

    deinit {
        scripted?.gate.open()
        server.stop(drainSeconds: 1)
        mirror.stop()
        try? store.close()
    }

    func client() throws -> RawClient { try RawClient(port: port) }

    /// Sends one request on a new connection and reads the reply.
    func request(_ method: String, _ target: String, headers: [(String, String)] = []) throws -> RawClient.Reply {
        try Self.request(port: port, method, target, headers: headers)
    }

    /// The same, for client threads that hold only the port.
    static func request(port: UInt16, _ method: String, _ target: String, headers: [(String, String)] = []) throws -> RawClient.Reply {
        let client = try RawClient(port: port)
        let fields = headers.map { "\($0.0): \($0.1)\r\n" }.joined()
        try client.send("\(method) \(target) HTTP/1.1\r\nHost: test\r\n\(fields)\r\n")
        return try client.readReply(isHead: method == "HEAD")
    }

    func advanceClock(by seconds: UInt64) {
        clock.seconds.add(seconds, ordering: .relaxed)
    }
}

/// Seconds a test moves by hand.
final class TestClock: Sendable {
    let seconds = Atomic<UInt64>(1_000_000)
}
