/// What the mirror needs from an upstream registry: one request at a time, blocking, called on
/// fill threads (never on an event loop). Implemented by `UpstreamClient`; tests may fake it.
public protocol UpstreamFetching: Sendable {
    /// Sends `request` to this upstream, with its registry authentication (bearer tokens from
    /// the `WWW-Authenticate` challenge, cached per realm/service/scope; or basic), redirects
    /// (301/302/303/307/308, across hosts without `Authorization`) and retries (5xx, resets and 429
    /// with a bounded `Retry-After`). Returns the final response's head, the body unread.
    func send(_ request: UpstreamRequest) throws(UpstreamError) -> UpstreamResponse
}

/// A request to an upstream registry.
public struct UpstreamRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", head = "HEAD" }

    public var method: Method
    /// Path and query on the upstream, e.g. `/v2/library/alpine/manifests/3`.
    public var path: String
    /// The repository, for the token scope `repository:<name>:pull`.
    public var repository: String
    /// Extra fields: `Accept`, `Range`.
    public var headers: [(name: String, value: String)]

    public init(method: Method, path: String, repository: String, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.path = path
        self.repository = repository
        self.headers = headers
    }
}

/// An upstream's answer: the head, and a body read in pieces.
///
/// Ownership: the caller must end every response with `finish()` (the body read to its end:
/// the connection goes back to the pool) or `abandon()` (closed). Not thread-safe: one thread
/// reads a response at a time.
public protocol UpstreamResponse: AnyObject, Sendable {
    var status: Int { get }
    /// Field values by name, any ASCII case; repeated fields joined with `, `.
    func header(_ name: String) -> String?
    /// The body's length when the upstream announced it.
    var contentLength: UInt64? { get }
    /// Reads the next body bytes into `buffer`; 0 at the end. A GET body that breaks mid-way
    /// (reset, timeout, short) is resumed with `Range: bytes=N-` on a new connection, up to a
    /// bounded number of times, invisibly to the caller; past that it throws.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(UpstreamError) -> Int
    func finish()
    func abandon()
}

/// Why an upstream request failed.
public enum UpstreamError: Error, Equatable, Sendable, CustomStringConvertible {
    /// DNS, connect, proxy or TLS failure: the upstream is unreachable.
    case unreachable(String)
    /// No response, or no progress, within the timeouts.
    case timedOut(String)
    /// The upstream broke the protocol (bad status line, bad framing, bad redirect).
    case malformed(String)
    /// Authentication failed (token endpoint refused, or 401 after a fresh token).
    case unauthorized(String)
    /// Still 429 or 5xx after the retries; the last status.
    case unavailable(status: Int)
    /// The body broke and could not be resumed.
    case bodyBroken(String)

    public var description: String {
        switch self {
        case .unreachable(let why): "upstream unreachable: \(why)"
        case .timedOut(let why): "upstream timed out: \(why)"
        case .malformed(let why): "upstream answered malformed: \(why)"
        case .unauthorized(let why): "upstream refused the credentials: \(why)"
        case .unavailable(let status): "upstream unavailable (\(status))"
        case .bodyBroken(let why): "upstream body broke: \(why)"
        }
    }
}
