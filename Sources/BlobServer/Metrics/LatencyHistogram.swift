import Synchronization

/// Request latencies in fixed buckets (seconds). Thread-safe: one short lock per observation,
/// which is cheap next to the request it measures; `/metrics` reads a snapshot.
final class LatencyHistogram: Sendable {
    /// Upper bounds in seconds, from 100 µs to 10 s.
    static let defaultBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    let bounds: [Double]
    private let state: Mutex<(counts: [UInt64], sumNanoseconds: UInt64)>

    init(bounds: [Double] = LatencyHistogram.defaultBounds) {
        precondition(bounds == bounds.sorted() && !bounds.isEmpty, "bounds must ascend")
        self.bounds = bounds
        // One counter per bound plus one for values above the last.
        state = Mutex((Array(repeating: 0, count: bounds.count + 1), 0))
    }

    /// Counts one observation of `nanoseconds`.
    func observe(nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        let index = bounds.firstIndex { seconds <= $0 } ?? bounds.count
        state.withLock { state in
            state.counts[index] += 1
            state.sumNanoseconds &+= nanoseconds
        }
    }

    struct Snapshot: Equatable {
        let bounds: [Double]
        /// Per-bucket (not cumulative) counts, the last for values above every bound.
        let counts: [UInt64]
        /// Sum of observations in seconds.
        let sum: Double
    }

    var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(bounds: bounds, counts: state.counts, sum: Double(state.sumNanoseconds) / 1e9)
        }
    }
}
