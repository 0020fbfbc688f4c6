import Synchronization

/// What a node counts of its traffic with peers, for `/metrics`: the peer requests it answered
/// (by outcome), the fetches it made from peers, and its concurrent peer sends. Thread-safe.
final class PeerCounters: Sendable {
    /// How a peer's request was answered.
    enum RequestOutcome: String, CaseIterable, Sendable {
        /// Sent the blob (or its head, or a manifest).
        case served
        /// At the fan-out limit: pointed to a peer that holds the blob or is filling it.
        case redirected
        /// At the fan-out limit with nowhere to point: 503.
        case busy
        /// Not from a member, or without the shared secret: 403.
        case refused
    }

    /// How a fetch from a peer ended.
    enum FetchOutcome: String, CaseIterable, Sendable {
        case completed, failed
    }

    struct Snapshot: Equatable, Sendable {
        var requests: [RequestOutcome: UInt64] = [:]
        var fetches: [FetchOutcome: UInt64] = [:]
        /// Peer transfers being sent now, all blobs together.
        var sendsInFlight: Int64 = 0
        /// The most concurrent peer transfers of any one blob seen so far.
        var sendsPeak: Int = 0
    }

    private let counts = Mutex(Snapshot())

    func request(_ outcome: RequestOutcome) { counts.withLock { $0.requests[outcome, default: 0] += 1 } }
    func fetch(_ outcome: FetchOutcome) { counts.withLock { $0.fetches[outcome, default: 0] += 1 } }

    /// A peer send started; `ofThisBlob` are the sends of its blob now, this one included.
    func sendStarted(ofThisBlob: Int) {
        counts.withLock {
            $0.sendsInFlight += 1
            $0.sendsPeak = max($0.sendsPeak, ofThisBlob)
        }
    }

    func sendEnded() { counts.withLock { $0.sendsInFlight -= 1 } }

    var snapshot: Snapshot { counts.withLock { $0 } }
}
