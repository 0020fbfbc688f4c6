import Synchronization

/// What upstream clients did, for `/metrics`. Given to each `UpstreamClient` at init, so
/// several clients (one per upstream registry) may add into one.
///
/// Thread-safe: one Mutex; each event costs one uncontended lock, and body bytes are counted
/// once per read, not per byte.
public final class UpstreamCounters: Sendable {
    /// The counts at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Requests by the status of the response that ended them: the one handed to the
        /// caller, or the last one before `.unavailable` or `.unauthorized`. Redirects,
        /// challenges and retried answers along the way count under `redirects` and `retries`.
        public var requestsByStatus: [Int: UInt64] = [:]
        /// Connection attempts and exchanges that failed below HTTP: connect, TLS, reset,
        /// timeout, malformed answer; each attempt counts, retried or not.
        public var transportFailures: UInt64 = 0
        /// Body bytes received, of every response (resumed ones included).
        public var bodyBytesReceived: UInt64 = 0
        public var tokenFetches: UInt64 = 0
        public var retries: UInt64 = 0
        public var resumes: UInt64 = 0
        public var redirects: UInt64 = 0

        public init() {}
    }

    private let counts = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { counts.withLock { $0 } }

    func requestEnded(status: Int) { counts.withLock { $0.requestsByStatus[status, default: 0] &+= 1 } }
    func transportFailed() { counts.withLock { $0.transportFailures &+= 1 } }
    func bodyBytesReceived(_ count: Int) { counts.withLock { $0.bodyBytesReceived &+= UInt64(count) } }
    func tokenFetched() { counts.withLock { $0.tokenFetches &+= 1 } }
    func retried() { counts.withLock { $0.retries &+= 1 } }
    func resumed() { counts.withLock { $0.resumes &+= 1 } }
    func redirected() { counts.withLock { $0.redirects &+= 1 } }
}
