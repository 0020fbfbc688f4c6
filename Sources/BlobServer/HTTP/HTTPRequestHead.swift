/// A parsed request head: what the router and the connection need to act on a request.
///
/// Built by `HTTPRequestParser` with two allocations at most: the path String (none when
/// it is 15 bytes or less) and the header fields' storage. The query, when present, is a
/// third. Immutable values, safe to send across threads.
public struct HTTPRequestHead: Hashable, Sendable {
    /// The protocol versions we speak; any other is `HTTPParseError.unsupportedVersion`.
    public enum Version: Hashable, Sendable {
        case http1_0
        case http1_1
    }

    /// How the body is delimited (RFC 9112 §6.3).
    public enum BodyFraming: Hashable, Sendable {
        /// No body: neither Content-Length nor Transfer-Encoding.
        case none
        /// Exactly this many bytes follow the head. No decoder is needed: the connection
        /// takes `min(remaining, available)` bytes from what follows `consumed` and counts
        /// `remaining` down to zero; whatever comes after is the next request.
        case contentLength(UInt64)
        /// A chunked body follows the head; feed it to a `ChunkedBodyDecoder`.
        case chunked
    }

    public var method: HTTPMethod
    /// The path as sent, still percent-encoded. For `OPTIONS *` it is `*`; for an
    /// absolute-form target it is the path after the authority, `/` when there is none.
    public var path: String
    /// The text after `?` as sent (possibly empty), or nil when the target has no `?`.
    public var query: String?
    public var version: Version
    /// Whether the connection may carry another request after this one: HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` and no `close`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` on HTTP/1.1: answer 100 before reading the body, or a final
    /// status without reading it. Other expectations are ignored (no 417).
    public var expectContinue: Bool
    public var body: BodyFraming
    public var headers: HTTPHeaderFields

    public init(
        method: HTTPMethod, path: String, query: String? = nil, version: Version = .http1_1,
        keepAlive: Bool = true, expectContinue: Bool = false, body: BodyFraming = .none,
        headers: HTTPHeaderFields = HTTPHeaderFields()
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.version = version
        self.keepAlive = keepAlive
        self.expectContinue = expectContinue
        self.body = body
        self.headers = headers
    }
}
