/// Why a connection could not carry an exchange. The client decides on retries from `kind`,
/// then reports an `UpstreamError`.
struct UpstreamConnectionFailure: Error, Sendable {
    enum Kind: Sendable, Equatable {
        /// Name resolution, connect or proxy failure: may be transient.
        case connectFailed
        /// The TLS handshake failed: certificate verification or a protocol mismatch. Retrying
        /// would fail the same way.
        case tlsRejected
        /// The peer did not answer or stalled past a deadline.
        case timedOut
        /// The peer closed or reset the connection.
        case closed
        /// The peer's bytes break HTTP/1.1.
        case malformed
    }

    let kind: Kind
    let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Worth another attempt (with backoff) before any response head arrived.
    var isRetryable: Bool { kind == .connectFailed || kind == .closed }

    /// The error the caller sees when this failure ends a request.
    var upstreamError: UpstreamError {
        switch kind {
        case .connectFailed, .tlsRejected, .closed: .unreachable(message)
        case .timedOut: .timedOut(message)
        case .malformed: .malformed(message)
        }
    }
}
