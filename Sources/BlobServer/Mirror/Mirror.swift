import BlobStore
import Glibc
import Synchronization

/// The pull-through mirror: what the registry handler asks when a request is for an upstream
/// (see `UpstreamDirectory`). Blobs come through single-flight fills (`BlobFills`); manifests by
/// digest are cached like blobs; tags are cached for `tagTTL`, then revalidated with an
/// upstream HEAD, and served stale for up to `maxStale` when the upstream is down or refuses.
///
/// Threads: fills run on their own pool (its size caps concurrent fills, the fill share of the
/// memory budget); manifest and HEAD lookups on a small pool of their own, so a slow upstream
/// never holds an event loop or the disk workers. Thread-safe. `stop` ends both pools, after
/// the work in flight.
public final class Mirror: Sendable {
    let directory: UpstreamDirectory
    let fills: BlobFills
    let metadata: MirrorMetadata
    let counters = MirrorCounters()
    /// What the upstream clients count (requests by status, bytes, token fetches), for `/metrics`.
    let upstreamCounters: UpstreamCounters?
    let store: BlobStore
    let logger: Logger
    /// A mirrored tag is answered from the cache for this long before it is revalidated.
    let tagTTL: UInt64
    /// A tag past its TTL may still be answered for this long when the upstream cannot say.
    let maxStale: UInt64
    /// Pushes are taken (into the local registry) even though upstreams are configured.
    let allowsPush: Bool
    /// The cluster this node belongs to, when `peers` is configured.
    let peers: PeerRouter?
    /// Wall-clock seconds; tests move it.
    let clock: @Sendable () -> UInt64
    private let fillPool: WorkerPool
    /// Fills through peers (`BlobFills` says why they have their own threads).
    private let relayPool: WorkerPool?
    let lookups: WorkerPool
    /// Upstreams (by namespace) that just failed a tag revalidation, until when (clock seconds):
    /// meanwhile stale tags are served without asking again, so an outage costs one round of
    /// retries, not one per request.
    private let downUntil = Mutex<[String: UInt64]>([:])
    static let downSeconds: UInt64 = 10

    /// Bytes one fill holds: its thread's scratch buffer, and the upstream connection's buffers
    /// (64 KiB of receive buffer, and up to about 70 KiB of TLS state).
    static let fillScratchBytes = 64 << 10
    static let bytesPerFill: UInt64 = 64 << 10 + 64 << 10 + 72 << 10
    static let maxConcurrentFills = 32
    static let lookupThreads = 4

    /// Makes the clients for `configuration.upstreams` with `makeClient` (an
    /// `UpstreamClientFactory`'s, or a test's), and the pools.
    public init(
        store: BlobStore, configuration: ServerConfiguration, logger: Logger,
        makeClient: @escaping UpstreamDirectory.ClientMaker, upstreamCounters: UpstreamCounters? = nil, peers: PeerRouter? = nil,
        clock: @escaping @Sendable () -> UInt64 = { UInt64(Glibc.time(nil)) }
    ) throws(MirrorSetupError) {
        do { directory = try UpstreamDirectory(mappings: configuration.upstreams, makeClient: makeClient) } catch {
            throw MirrorSetupError(reason: error.description)
        }
        do { metadata = try MirrorMetadata(storePath: store.path) } catch {
            throw MirrorSetupError(reason: error.description)
        }
        self.store = store
        self.logger = logger
        self.upstreamCounters = upstreamCounters
        self.peers = peers
        tagTTL = configuration.tagTTLSeconds
        maxStale = configuration.tagMaxStaleSeconds
        allowsPush = configuration.mirrorPush
        self.clock = clock
        let fillThreads = Self.fillCap(budget: configuration.resolvedMemoryBudget)
        // Without peers there are no relays: every fill thread fills from the upstream.
        let relayThreads = peers == nil ? 0 : max(1, fillThreads / 2)
        fillPool = WorkerPool(workers: fillThreads - relayThreads, name: "blobcache-fill", scratchBytes: Self.fillScratchBytes)
        relayPool = peers == nil ? nil : WorkerPool(workers: relayThreads, name: "blobcache-relay", scratchBytes: Self.fillScratchBytes)
        lookups = WorkerPool(workers: Self.lookupThreads, name: "blobcache-look", scratchBytes: 4096)
        fills = BlobFills(store: store, pool: fillPool, relayPool: relayPool, counters: counters, logger: logger)
    }

    /// Concurrent fills the fill share of `budget` pays for, at least 2 (with peers: half of
    /// them relays).
    static func fillCap(budget: MemoryBudget) -> Int {
        min(maxConcurrentFills, max(2, Int(budget.fillBufferBytes / bytesPerFill)))
    }

    /// Remembers that `namespace`'s upstream could not answer just now.
    func markDown(_ namespace: String) {
        let until = clock() + Self.downSeconds
        downUntil.withLock { $0[namespace] = until }
    }

    /// Whether `namespace`'s upstream failed within the last `downSeconds`.
    func isDown(_ namespace: String) -> Bool {
        let now = clock()
        return downUntil.withLock { down in
            guard let until = down[namespace] else { return false }
            if now < until { return true }
            down[namespace] = nil
            return false
        }
    }

    /// Whether upstreams are configured (otherwise the handler never asks the mirror).
    public var isMirroring: Bool { directory.isMirror }

    /// Ends the pools once the fills and lookups in flight are done, and the peer lookups.
    /// Call after the server stopped.
    public func stop() {
        fillPool.stop()
        relayPool?.stop()
        lookups.stop()
        peers?.stop()
    }
}

/// The mirror could not be set up: a bad upstream URL or an unusable data directory.
public struct MirrorSetupError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
