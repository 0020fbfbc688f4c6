/// What `PeerMembership` reports to `/metrics`, read in one go.
struct PeerMembershipMetrics: Equatable {
    /// Time per DNS query (A and AAAA each count), answered or not.
    let queryLatency: LatencyHistogram.Snapshot
    /// Lookups that failed and kept the last good membership.
    let lookupFailures: UInt64
    /// Peers in the current membership, ourselves excluded.
    let memberCount: Int
}
