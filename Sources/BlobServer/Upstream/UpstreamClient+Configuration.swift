extension UpstreamClient {
    /// How an `UpstreamClient` reaches its upstream. Every field but the URL has a default;
    /// `UpstreamClient.init` checks them all and names the first bad one.
    public struct Configuration: Sendable {
        /// `http(s)://host[:port][/prefix]` (IPv6 in brackets); request paths go under the prefix.
        public var baseURL: String
        /// A PEM file of CA certificates trusted besides the system bundle.
        public var caFile: String?
        /// Verify the upstream's certificate chain and host name. Off only for labs and tests.
        public var tlsVerify = true
        /// Sent as Basic when the upstream asks, and to a token realm on the upstream's domain.
        public var credentials: UpstreamCredentials?
        /// TCP connect, proxy CONNECT and TLS handshake, together.
        public var connectTimeoutSeconds = 10.0
        /// From a request sent to the first byte of its answer.
        public var firstByteTimeoutSeconds = 30.0
        /// The longest stall once bytes flow, reading or writing; also how long an idle
        /// connection may wait in the pool before it is closed instead of reused.
        public var idleTimeoutSeconds = 30.0
        /// How long a request waits for a connection when its origin has
        /// `maxConnectionsPerOrigin` open; then `.timedOut`.
        public var poolWaitTimeoutSeconds = 30.0
        /// Idle keep-alive connections kept per origin.
        public var maxIdleConnectionsPerOrigin = 4
        /// Connections open at once per origin, idle or in use.
        public var maxConnectionsPerOrigin = 16
        /// Further attempts after a connect failure, a reset before the response head, 5xx or 429.
        public var maxRetries = 3
        /// The wait before the first retry; it doubles with each retry, up to 5 s.
        public var retryBackoffSeconds = 0.2
        /// The longest `Retry-After` waited for; a longer one fails at once with `.unavailable`.
        public var maxRetryAfterSeconds = 10.0
        public var maxRedirects = 5
        /// Times a broken GET body is resumed with `Range` before `read` throws.
        public var maxResumes = 5
        /// The local address outgoing connections are bound to (port chosen by the kernel); nil:
        /// the kernel picks by route. Peers set it so that the receiving node sees the address
        /// it knows them by, also on a loopback network of many addresses.
        public var sourceHost: SocketAddress.Host?
        /// Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (and their lowercase twins) are read.
        public var environment: [String: String]

        public init(baseURL: String, environment: [String: String]? = nil) {
            self.baseURL = baseURL
            self.environment = environment ?? processEnvironment()
        }

        /// The parsed base URL, after every field is checked.
        func validated() throws(UpstreamConfigurationError) -> UpstreamURL {
            let url: UpstreamURL
            do {
                url = try UpstreamURL(parsing: baseURL)
            } catch {
                throw UpstreamConfigurationError(field: "baseURL", reason: error.description)
            }
            guard url.user == nil else {
                throw UpstreamConfigurationError(field: "baseURL", reason: "put credentials in `credentials`, not in the URL")
            }
            guard !url.target.contains("?") else {
                throw UpstreamConfigurationError(field: "baseURL", reason: "'\(baseURL)' must not have a query")
            }
            if let caFile, caFile.isEmpty { throw UpstreamConfigurationError(field: "caFile", reason: "the path is empty") }
            let durations: [(String, Double)] = [
                ("connectTimeoutSeconds", connectTimeoutSeconds), ("firstByteTimeoutSeconds", firstByteTimeoutSeconds),
                ("idleTimeoutSeconds", idleTimeoutSeconds), ("poolWaitTimeoutSeconds", poolWaitTimeoutSeconds),
            ]
            for (field, value) in durations where !(value > 0 && value <= 86400) {
                throw UpstreamConfigurationError(field: field, reason: "\(value) is not a number of seconds in (0, 86400]")
            }
            for (field, value) in [("retryBackoffSeconds", retryBackoffSeconds), ("maxRetryAfterSeconds", maxRetryAfterSeconds)]
            where !(value >= 0 && value <= 3600) {
                throw UpstreamConfigurationError(field: field, reason: "\(value) is not a number of seconds in [0, 3600]")
            }
            let counts: [(String, Int, ClosedRange<Int>)] = [
                ("maxIdleConnectionsPerOrigin", maxIdleConnectionsPerOrigin, 0...10_000),
                ("maxConnectionsPerOrigin", maxConnectionsPerOrigin, 1...10_000),
                ("maxRetries", maxRetries, 0...100), ("maxRedirects", maxRedirects, 0...20), ("maxResumes", maxResumes, 0...1000),
            ]
            for (field, value, range) in counts where !range.contains(value) {
                throw UpstreamConfigurationError(field: field, reason: "\(value) is not in \(range.lowerBound)...\(range.upperBound)")
            }
            return url
        }
    }
}
