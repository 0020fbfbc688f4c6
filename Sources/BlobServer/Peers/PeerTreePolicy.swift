import Synchronization

/// How a node shares a blob with the peers that ask it for that blob, so that a cluster pulling
/// one hot blob forms a distribution tree instead of queueing on its owner.
///
/// A node serves at most `fanout` peer transfers of one blob at a time. Beyond that it
/// redirects the requester to a peer it has served that blob to (which holds it or is filling
/// it), choosing the one it has redirected to least, so its subtrees grow evenly. A redirected
/// node applies the same rule: if it is itself at its limit it passes the requester on to its
/// own children. Each node knows only the peers it served, so no node needs the whole tree,
/// and each node enforces its own limit from the transfers it really runs.
///
/// Pure bookkeeping: the server calls `admit` before a peer transfer and `finished` after it,
/// and does the I/O. Thread-safe: every call takes one lock and does O(`fetchersPerBlob`) work,
/// plus a scan of the hot blobs when a new one evicts the least recently used.
public final class PeerTreePolicy<Blob: Hashable & Sendable, Node: Equatable & Sendable>: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Concurrent peer transfers of one blob that this node serves itself.
        public let fanout: Int
        /// Peers remembered per blob as redirect targets, most recent kept.
        public let fetchersPerBlob: Int
        /// Blobs remembered. A blob with transfers under way is never forgotten (its count keeps
        /// the limit), so the table may exceed this by the blobs being sent right now.
        public let hotBlobs: Int

        public init(fanout: Int = 8, fetchersPerBlob: Int = 64, hotBlobs: Int = 1024) {
            precondition(fanout >= 1, "fanout must be at least 1")
            precondition(fetchersPerBlob >= fanout, "fetchersPerBlob must hold at least fanout peers")
            precondition(hotBlobs >= 1, "hotBlobs must be at least 1")
            self.fanout = fanout
            self.fetchersPerBlob = fetchersPerBlob
            self.hotBlobs = hotBlobs
        }
    }

    public enum Decision: Equatable, Sendable {
        /// Send the blob; call `finished` when the transfer ends, however it ends.
        case serve
        /// Tell the requester to fetch from this peer, which holds the blob or is filling it.
        case redirect(to: Node)
        /// At the limit and no other peer known to have the blob: the requester retries later.
        case busy
    }

    public let limits: Limits
    private let state = Mutex(State())

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Decides how `requester`'s request for `blob` is answered. `.serve` counts a transfer
    /// against the limit until `finished`.
    public func admit(_ blob: Blob, requester: Node) -> Decision {
        state.withLock { state in
            state.clock += 1
            if state.blobs[blob] == nil { state.evictLeastRecentlyUsed(keeping: limits.hotBlobs - 1) }
            return state.blobs[blob, default: HotBlob()].admit(requester, at: state.clock, limits: limits)
        }
    }

    /// Ends a transfer that `admit` answered with `.serve`. The requester now holds the blob
    /// and stays a redirect target. A call without a matching `.serve` does nothing.
    public func finished(_ blob: Blob, requester: Node) {
        state.withLock { state in
            state.clock += 1
            guard var entry = state.blobs[blob], let index = entry.serving.firstIndex(of: requester) else { return }
            entry.serving.remove(at: index)
            entry.lastUse = state.clock
            state.blobs[blob] = entry
        }
    }

    /// Transfers of `blob` this node is serving now.
    public func transfers(of blob: Blob) -> Int {
        state.withLock { $0.blobs[blob]?.serving.count ?? 0 }
    }

    /// Blobs remembered now.
    public var hotBlobCount: Int {
        state.withLock { $0.blobs.count }
    }

    private struct State {
        var blobs: [Blob: HotBlob] = [:]
        /// Counts calls; orders uses for the LRU without reading a clock.
        var clock: UInt64 = 0

        /// Forgets idle blobs, least recently used first, until at most `count` remain.
        mutating func evictLeastRecentlyUsed(keeping count: Int) {
            while blobs.count > count {
                guard let victim = blobs.lazy.filter({ $0.value.serving.isEmpty }).min(by: { $0.value.lastUse < $1.value.lastUse })
                else { return }
                blobs[victim.key] = nil
            }
        }
    }

    private struct Fetcher {
        let node: Node
        var redirectsSent: Int
    }

    private struct HotBlob {
        /// The peers being sent the blob now, one entry per transfer.
        var serving: [Node] = []
        /// Peers this node served, oldest first: they hold the blob or are filling it.
        var fetchers: [Fetcher] = []
        var lastUse: UInt64 = 0

        mutating func admit(_ requester: Node, at clock: UInt64, limits: Limits) -> Decision {
            lastUse = clock
            if serving.count < limits.fanout {
                serving.append(requester)
                if !fetchers.contains(where: { $0.node == requester }) {
                    fetchers.append(Fetcher(node: requester, redirectsSent: 0))
                    if fetchers.count > limits.fetchersPerBlob { fetchers.removeFirst() }
                }
                return .serve
            }
            // Fewest redirects first, oldest on a tie: subtrees grow evenly, breadth first.
            let known = fetchers
            let candidates = known.indices.lazy.filter { known[$0].node != requester }
            guard let chosen = candidates.min(by: { known[$0].redirectsSent < known[$1].redirectsSent }) else {
                return .busy
            }
            fetchers[chosen].redirectsSent += 1
            return .redirect(to: fetchers[chosen].node)
        }
    }
}
