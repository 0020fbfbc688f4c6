import Synchronization

/// The server's request and connection counters, for `/metrics`.
///
/// Sharded by event loop: each loop records into its own shard, whose lock no other loop takes,
/// so counting costs an uncontended lock per request. `/metrics` merges the shards.
/// Thread-safe.
public final class ServerMetrics: Sendable {
    /// One loop's counters.
    public final class Shard: Sendable {
        private let counters = Mutex(ShardCounters())
        let latency = LatencyHistogram()

        /// Counts a finished request: its route, status, the body bytes sent and how long it
        /// took from its head's arrival to its last byte.
        public func requestFinished(route: RouteLabel, status: Int, bytesSent: UInt64, nanoseconds: UInt64) {
            counters.withLock { counters in
                counters.requests[ShardCounters.slot(route: route, status: status)] &+= 1
                counters.bytesSent &+= bytesSent
            }
            latency.observe(nanoseconds: nanoseconds)
        }

        /// Request body bytes received.
        public func bytesReceived(_ count: UInt64) {
            counters.withLock { $0.bytesReceived &+= count }
        }

        public func connectionOpened() {
            counters.withLock {
                $0.accepted += 1
                $0.open += 1
            }
        }

        public func connectionClosed() {
            counters.withLock { $0.open -= 1 }
        }

        fileprivate var counts: Counters { counters.withLock { $0.totals } }
    }

    /// A shard's counts: requests in a flat array indexed by route and status (no hashing per
    /// request), turned into `Counters` when read.
    private struct ShardCounters {
        static let statuses = 600
        var requests = [UInt64](repeating: 0, count: RouteLabel.allCases.count * statuses)
        var bytesSent: UInt64 = 0
        var bytesReceived: UInt64 = 0
        var accepted: UInt64 = 0
        var open: Int64 = 0

        static func slot(route: RouteLabel, status: Int) -> Int {
            route.ordinal * statuses + (0..<statuses).clamped(to: status)
        }

        var totals: Counters {
            var counters = Counters(bytesSent: bytesSent, bytesReceived: bytesReceived, accepted: accepted, open: open)
            for (routeIndex, route) in RouteLabel.allCases.enumerated() {
                for status in 0..<Self.statuses where requests[routeIndex * Self.statuses + status] > 0 {
                    counters.requests[RequestKey(route: route, status: status)] = requests[routeIndex * Self.statuses + status]
                }
            }
            return counters
        }
    }

    /// A request count's labels.
    public struct RequestKey: Hashable, Sendable {
        public let route: RouteLabel
        public let status: Int
    }

    /// Totals over every shard.
    public struct Counters: Sendable {
        init(bytesSent: UInt64 = 0, bytesReceived: UInt64 = 0, accepted: UInt64 = 0, open: Int64 = 0) {
            self.bytesSent = bytesSent
            self.bytesReceived = bytesReceived
            self.accepted = accepted
            self.open = open
        }

        public var requests: [RequestKey: UInt64] = [:]
        public var bytesSent: UInt64
        public var bytesReceived: UInt64
        public var accepted: UInt64
        public var open: Int64
    }

    public let shards: [Shard]

    public init(loops: Int) {
        shards = (0..<max(1, loops)).map { _ in Shard() }
    }

    /// The counters of every shard added up.
    public var totals: Counters {
        var total = Counters()
        for shard in shards {
            let counts = shard.counts
            total.requests.merge(counts.requests, uniquingKeysWith: +)
            total.bytesSent &+= counts.bytesSent
            total.bytesReceived &+= counts.bytesReceived
            total.accepted &+= counts.accepted
            total.open += counts.open
        }
        return total
    }

    /// The request latency histogram of every shard added up.
    var latency: LatencyHistogram.Snapshot {
        let snapshots = shards.map(\.latency.snapshot)
        var counts = snapshots[0].counts
        for snapshot in snapshots.dropFirst() {
            for index in counts.indices { counts[index] += snapshot.counts[index] }
        }
        return LatencyHistogram.Snapshot(
            bounds: snapshots[0].bounds, counts: counts, sum: snapshots.reduce(0) { $0 + $1.sum })
    }
}

private extension Range<Int> {
    /// `value` moved into the range: statuses outside 0..<600 count as the nearest end.
    func clamped(to value: Int) -> Int { Swift.min(Swift.max(value, lowerBound), upperBound - 1) }
}
