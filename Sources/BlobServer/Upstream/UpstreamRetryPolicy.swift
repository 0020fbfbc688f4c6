/// When the upstream client tries again: after a connect failure, a reset before the
/// response head, a 5xx or a 429, at most `maxRetries` times, waiting as the server asks
/// (`Retry-After`) or with exponential backoff. A `Retry-After` longer than `maxRetryAfter`
/// is not waited for at all: the caller is better served failing now (and serving stale data)
/// than hanging.
struct UpstreamRetryPolicy: Sendable {
    enum Decision: Equatable {
        case retry(afterSeconds: Double)
        case giveUp
    }

    let maxRetries: Int
    /// The first backoff; each retry doubles it, up to `maxBackoff`.
    let backoff: Double
    let maxBackoff: Double
    let maxRetryAfter: Double

    /// Whether a response with `status` is worth another attempt.
    static func isRetryable(status: Int) -> Bool { status == 429 || (500..<600).contains(status) }

    /// After a retryable status, `retriesDone` retries into the request.
    func afterStatus(retryAfter: Double?, retriesDone: Int) -> Decision {
        if let retryAfter, retryAfter > maxRetryAfter { return .giveUp }
        guard retriesDone < maxRetries else { return .giveUp }
        return .retry(afterSeconds: retryAfter ?? backoffSeconds(retriesDone: retriesDone))
    }

    /// After a retryable transport failure.
    func afterTransportFailure(retriesDone: Int) -> Decision {
        guard retriesDone < maxRetries else { return .giveUp }
        return .retry(afterSeconds: backoffSeconds(retriesDone: retriesDone))
    }

    /// `backoff * 2^retriesDone`, capped, with the upper half jittered so fill threads that
    /// failed together do not come back together.
    func backoffSeconds(retriesDone: Int) -> Double {
        let full = min(maxBackoff, backoff * Double(1 << min(retriesDone, 20)))
        return full / 2 + Double.random(in: 0...(full / 2))
    }
}
