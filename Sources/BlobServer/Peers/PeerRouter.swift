import BlobStore
import Glibc
import Synchronization

/// Where a node sends what it lacks, and how it answers peers: the cluster's side of the mirror.
///
/// As a requester: the members and ourselves are ranked per key by rendezvous hashing
/// (`candidates(for:)`); the peers ranked above us are asked in turn, the owner first, through
/// one `UpstreamClient` per peer with short timeouts (a dead peer costs one 200 ms connect
/// attempt), bound to our own address. A peer that fails is left out for a backoff that
/// doubles with each failure in a row; one whose bytes did not verify, for `liarBackoff`.
///
/// As the asked: a request marked with `PeerRequestMark.field` is accepted only from a current
/// member's address (and with the shared secret, when one is set), and `PeerTreePolicy` caps the
/// concurrent sends of one blob at the fan-out.
///
/// Thread-safe. `stop` ends the membership's lookups.
public final class PeerRouter: Sendable {
    struct Timing: Sendable {
        var connectSeconds = 0.2
        /// From a peer request sent to the answer's head: the owner answers once its own
        /// upstream's head arrived.
        var firstByteSeconds = 5.0
        var idleSeconds = 10.0
        /// The first backoff after a failure; it doubles with each failure in a row.
        var backoffSeconds = 5.0
        var maxBackoffSeconds = 60.0
        /// How long a peer that sent bytes that did not verify is left out.
        var liarBackoffSeconds = 300.0

        init() {}
    }

    let membership: PeerMembership
    /// Our address as the peers know it; nil when it cannot be told (a wildcard listener
    /// without `BLOBCACHE_POD_IP`): then we never rank ourselves, and may ask ourselves.
    let selfAddress: SocketAddress?
    let policy: PeerTreePolicy<Digest, SocketAddress>
    let counters = PeerCounters()
    /// The value peer requests carry in `PeerRequestMark.field`: the shared secret, or "1".
    let mark: String
    private let requiresSecret: Bool
    private let timing: Timing
    private let logger: Logger
    /// Peers ranked above us are asked, at most this many, before the upstream.
    static let candidatesPerKey = 2

    private struct State {
        var rankingVersion: UInt64 = .max
        var ranking = RendezvousRanking<SocketAddress>(members: [])
        var clients: [SocketAddress: UpstreamClient] = [:]
        var down: [SocketAddress: DownMark] = [:]
    }

    private struct DownMark {
        var until: Double
        var failuresInARow: Int
    }

    private let state = Mutex(State())
    private let clientCounters = UpstreamCounters()

    init(membership: PeerMembership, selfAddress: SocketAddress?, fanout: Int, secret: String?, timing: Timing = Timing(), logger: Logger) {
        self.membership = membership
        self.selfAddress = selfAddress
        policy = PeerTreePolicy(limits: .init(fanout: fanout, fetchersPerBlob: max(64, fanout)))
        mark = secret ?? "1"
        requiresSecret = secret != nil
        self.timing = timing
        self.logger = logger
    }

    // MARK: Asking peers

    /// The peers to ask for `key`, best first: those ranked above us that are not backing off,
    /// at most `candidatesPerKey`. Empty when we own the key (or know no peers).
    func candidates(for key: RendezvousKey) -> [SocketAddress] {
        let now = Self.monotonicSeconds()
        return state.withLock { state in
            refreshRanking(&state)
            var chosen: [SocketAddress] = []
            for member in state.ranking.ranked(for: key, limit: state.ranking.members.count) {
                if member == selfAddress { break }
                if let mark = state.down[member], now < mark.until { continue }
                chosen.append(member)
                if chosen.count == Self.candidatesPerKey { break }
            }
            return chosen
        }
    }

    /// The client that talks to `peer`, made on first use.
    func client(for peer: SocketAddress) throws(UpstreamError) -> UpstreamClient {
        if let existing = state.withLock({ $0.clients[peer] }) { return existing }
        var configuration = UpstreamClient.Configuration(baseURL: "http://\(peer)", environment: [:])
        configuration.connectTimeoutSeconds = timing.connectSeconds
        configuration.firstByteTimeoutSeconds = timing.firstByteSeconds
        configuration.idleTimeoutSeconds = timing.idleSeconds
        configuration.poolWaitTimeoutSeconds = timing.firstByteSeconds
        // Another peer, or the upstream, is the retry: a failing peer is passed over at once.
        configuration.maxRetries = 0
        configuration.maxResumes = 0
        // A redirect chain is one hop per level of the distribution tree.
        configuration.maxRedirects = 8
        // No idle connections kept: a node may talk to a thousand owners, and each kept
        // connection holds a receive buffer. A connect on the cluster network costs one round
        // trip; what is open at once stays bounded by the relay threads and lookups.
        configuration.maxIdleConnectionsPerOrigin = 0
        if let host = selfAddress?.host, !host.isWildcard { configuration.sourceHost = host }
        let client: UpstreamClient
        do { client = try UpstreamClient(configuration: configuration, counters: clientCounters, logger: logger) } catch {
            throw .unreachable("no client for peer \(peer): \(error)")
        }
        return state.withLock { state in
            if let raced = state.clients[peer] { return raced }
            state.clients[peer] = client
            return client
        }
    }

    /// `peer` failed a request: it is passed over for a backoff that doubles with each failure
    /// in a row.
    func markFailed(_ peer: SocketAddress, _ reason: String) {
        let now = Self.monotonicSeconds()
        let backoff: Double = state.withLock { state in
            var mark = state.down[peer] ?? DownMark(until: 0, failuresInARow: 0)
            mark.failuresInARow += 1
            let backoff = min(timing.maxBackoffSeconds, timing.backoffSeconds * Double(1 << min(mark.failuresInARow - 1, 16)))
            mark.until = max(mark.until, now + backoff)
            state.down[peer] = mark
            return backoff
        }
        counters.fetch(.failed)
        logger.warn("peer failed; passing it over", ["peer": .string("\(peer)"), "error": .string(reason), "backoff_s": .double(backoff)])
    }

    /// `peer` answered, but not with what was asked (404, busy): the next source is asked, and
    /// the peer is not blamed.
    func passedOver(_ peer: SocketAddress, _ reason: String) {
        counters.fetch(.failed)
        logger.debug("peer passed over", ["peer": .string("\(peer)"), "reason": .string(reason)])
    }

    /// `peer` sent bytes that did not verify: it is passed over for `liarBackoffSeconds`. The
    /// caller counts the failed fetch.
    func markLied(_ peer: SocketAddress) {
        let until = Self.monotonicSeconds() + timing.liarBackoffSeconds
        state.withLock { state in
            var mark = state.down[peer] ?? DownMark(until: 0, failuresInARow: 0)
            mark.failuresInARow += 1
            mark.until = max(mark.until, until)
            state.down[peer] = mark
        }
        logger.error("a peer's bytes did not verify; passing it over", ["peer": .string("\(peer)"), "backoff_s": .double(timing.liarBackoffSeconds)])
    }

    /// `peer` answered a whole request: its failures in a row start again from zero. (Whether
    /// its bytes were right is counted once they are verified: `PeerFailoverResponse`.)
    func markWorked(_ peer: SocketAddress) {
        state.withLock { state in
            if state.down[peer] != nil { state.down[peer] = nil }
        }
    }

    /// Rebuilds the ranking after the membership changed, and drops what we kept for peers
    /// that left.
    private func refreshRanking(_ state: inout State) {
        let version = membership.version
        guard version != state.rankingVersion else { return }
        let members = membership.members
        state.ranking = RendezvousRanking(members: members + (selfAddress.map { [$0] } ?? []))
        state.rankingVersion = version
        let current = Set(members)
        state.clients = state.clients.filter { current.contains($0.key) }
        state.down = state.down.filter { current.contains($0.key) }
    }

    // MARK: Answering peers

    /// Who sent a request marked as a peer's.
    enum Requester {
        case member(SocketAddress)
        case refused(String)
    }

    /// Checks a marked request: the secret (when set), then the sender's address against the
    /// members. A member is known by its host: its outgoing port is the kernel's choice.
    func requester(mark value: String, from remote: SocketAddress?) -> Requester {
        if requiresSecret, !Self.constantTimeEquals(value, mark) {
            counters.request(.refused)
            return .refused("the peer secret does not match")
        }
        guard let remote else {
            counters.request(.refused)
            return .refused("the sender's address is unknown")
        }
        guard let member = membership.members.first(where: { $0.host == remote.host }) else {
            counters.request(.refused)
            return .refused("\(remote) is not a member of this cluster")
        }
        return .member(member)
    }

    /// Decides how a member's GET of `digest` is answered, now that we can send it.
    func admit(_ digest: Digest, requester: SocketAddress) -> PeerTreePolicy<Digest, SocketAddress>.Decision {
        let decision = policy.admit(digest, requester: requester)
        switch decision {
        case .serve:
            counters.request(.served)
            counters.sendStarted(ofThisBlob: policy.transfers(of: digest))
        case .redirect: counters.request(.redirected)
        case .busy: counters.request(.busy)
        }
        return decision
    }

    /// Ends a send that `admit` answered with `.serve`.
    func sendEnded(_ digest: Digest, requester: SocketAddress) {
        policy.finished(digest, requester: requester)
        counters.sendEnded()
    }

    /// Ends the background lookups.
    public func stop() {
        membership.stop()
    }

    private static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8), right = Array(rhs.utf8)
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// The field that marks a request as a peer's: a node answers it from its cache or its
/// upstream, never by asking another peer, so requests never loop.
enum PeerRequestMark {
    static let field = "Blobcache-Peer"
}
