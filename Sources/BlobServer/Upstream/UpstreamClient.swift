import Glibc
import Synchronization

/// Our HTTP/1.1 client for one upstream registry (no URLSession, no Foundation networking):
/// plain TCP or TLS (OpenSSL), keep-alive pools per origin, `CONNECT` proxies from the
/// environment, redirects, registry authentication (bearer tokens and Basic), retries, and
/// bodies that resume with `Range` when they break.
///
/// Threading: `send` blocks; call it from fill threads, never from an event loop. Any number
/// of threads may send at once; each response is read by one thread at a time.
///
/// Memory: one `TLSClientContext` shared by every client with the same TLS settings (the CA
/// store, about 840 KiB), plus per open connection what `UpstreamConnection` documents
/// (64 KiB; about 110 KiB with TLS), at most `maxConnectionsPerOrigin` per origin. Nothing else grows with traffic: bodies stream
/// through each connection's receive buffer into the caller's.
///
/// Secrets: credentials, tokens and URL queries (signed URLs) are never logged.
public final class UpstreamClient: UpstreamFetching {
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    public let configuration: Configuration
    public let counters: UpstreamCounters
    let base: UpstreamURL
    let logger: Logger?
    let pool: UpstreamConnectionPool
    let tls: TLSClientContext
    let proxies: ProxySelection
    let retryPolicy: UpstreamRetryPolicy
    let tokens: BearerTokenCache
    /// Set once the upstream asks for Basic: from then on every request to it carries it.
    let usesBasic = Atomic<Bool>(false)

    /// Checks `configuration` (throwing naming the bad field), loads the CA certificates and
    /// reads the proxy variables. `counters` may be shared with other clients.
    public init(configuration: Configuration, counters: UpstreamCounters = UpstreamCounters(), logger: Logger? = nil)
        throws(UpstreamConfigurationError)
    {
        base = try configuration.validated()
        proxies = try ProxySelection(environment: configuration.environment)
        tls = try TLSClientContext.shared(caFile: configuration.caFile, verifyPeer: configuration.tlsVerify)
        self.configuration = configuration
        self.counters = counters
        self.logger = logger
        pool = UpstreamConnectionPool(limits: .init(
            maxIdle: configuration.maxIdleConnectionsPerOrigin, maxOpen: configuration.maxConnectionsPerOrigin,
            maxIdleSeconds: configuration.idleTimeoutSeconds))
        retryPolicy = UpstreamRetryPolicy(
            maxRetries: configuration.maxRetries, backoff: configuration.retryBackoffSeconds, maxBackoff: 5,
            maxRetryAfter: configuration.maxRetryAfterSeconds)
        tokens = BearerTokenCache()
        // OpenSSL writes to its socket with write(2), which raises SIGPIPE on a connection the
        // peer closed; the server ignores it at startup too.
        signal(SIGPIPE, SIG_IGN)
    }

    public func send(_ request: UpstreamRequest) throws(UpstreamError) -> UpstreamResponse {
        try perform(OutgoingRequest(request, url: base.appending(path: request.path)), purpose: .request)
    }

    /// Why `perform` runs: what it authenticates and counts.
    enum Purpose {
        /// A caller's request: registry authentication, and its final status counted.
        case request
        /// A broken body's continuation: authenticated like the request, not counted again.
        case resumption
        /// A token endpoint's GET: `authorization` (Basic, or nil) goes to `origin`'s host and
        /// port only; a 401 is the caller's to judge.
        case tokenFetch(authorization: String?, origin: UpstreamOrigin)
    }

    /// Sends `initial`, following redirects, answering challenges and retrying, until a
    /// response to hand over; see `UpstreamFetching.send`.
    func perform(_ initial: OutgoingRequest, purpose: Purpose) throws(UpstreamError) -> UpstreamClientResponse {
        var request = initial
        var retries = 0
        var redirects = 0
        var authentication = AuthenticationProgress()
        while true {
            let authorization = authorizationField(for: request, purpose: purpose, progress: authentication)
            let response: UpstreamClientResponse
            do throws(UpstreamConnectionFailure) {
                response = try exchange(request, authorization: authorization)
            } catch {
                counters.transportFailed()
                guard error.isRetryable, case .retry(let delay) = retryPolicy.afterTransportFailure(retriesDone: retries) else {
                    throw error.upstreamError
                }
                retries += 1
                counters.retried()
                logger?.warn("upstream request failed; retrying", [
                    "url": .string(request.url.redactedDescription), "error": .string(error.message),
                    "retry": .int(Int64(retries)), "delay_seconds": .double(delay),
                ])
                sleepBlocking(seconds: delay)
                continue
            }
            let status = response.status
            if Self.redirectStatuses.contains(status), let location = response.header("Location") {
                response.discardBody()
                redirects += 1
                guard redirects <= configuration.maxRedirects else {
                    throw .malformed("more than \(configuration.maxRedirects) redirects from \(initial.url.redactedDescription)")
                }
                guard let target = request.url.resolving(location) else {
                    throw .malformed("\(request.url.redactedDescription) redirected to an unusable Location")
                }
                counters.redirected()
                logger?.debug("upstream redirect", [
                    "status": .int(Int64(status)), "from": .string(request.url.redactedDescription),
                    "to": .string(target.redactedDescription),
                ])
                request.url = target
                continue
            }
            if status == 401, purpose.authenticates {
                response.discardBody()
                do throws(UpstreamError) {
                    try answerChallenge(response.head, to: request, sentAuthorization: authorization, progress: &authentication)
                } catch {
                    if case .request = purpose { counters.requestEnded(status: status) }
                    throw error
                }
                continue
            }
            if UpstreamRetryPolicy.isRetryable(status: status) {
                let retryAfter = response.header("Retry-After").flatMap { RetryAfter.seconds($0, now: time(nil)) }
                if case .retry(let delay) = retryPolicy.afterStatus(retryAfter: retryAfter, retriesDone: retries) {
                    response.discardBody()
                    retries += 1
                    counters.retried()
                    logger?.warn("upstream answered \(status); retrying", [
                        "url": .string(request.url.redactedDescription), "retry": .int(Int64(retries)),
                        "delay_seconds": .double(delay),
                    ])
                    sleepBlocking(seconds: delay)
                    continue
                }
                response.abandon()
                if case .request = purpose { counters.requestEnded(status: status) }
                throw .unavailable(status: status)
            }
            if case .request = purpose { counters.requestEnded(status: status) }
            return response
        }
    }
}

extension UpstreamClient.Purpose {
    /// Whether a 401 is answered with the registry's credentials or a token.
    var authenticates: Bool {
        if case .tokenFetch = self { return false }
        return true
    }
}
