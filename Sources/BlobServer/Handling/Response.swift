import BlobStore

/// What to answer a request with, as a handler decides it. The connection turns it into bytes:
/// it adds `Date`, `Content-Length` and `Connection`, and for HEAD it sends the head alone.
///
/// Immutable values, safe to pass from a worker thread to the loop.
public struct Response: Sendable {
    public enum Body: Sendable {
        /// No body: `Content-Length: 0`.
        case empty
        /// Literal bytes (error bodies, JSON listings, small manifests).
        case bytes([UInt8], contentType: String)
        /// A blob of the store, served by the connection with ranges, `ETag`, `If-None-Match`,
        /// `If-Range`, `Accept-Ranges` and `Docker-Content-Digest`, sent with sendfile. If the
        /// blob has gone by the time it is opened, the answer is 404 BLOB_UNKNOWN (or
        /// MANIFEST_UNKNOWN for a manifest).
        case blob(Digest, contentType: String, isManifest: Bool)
        /// A blob still being fetched, sent from its growing file as bytes arrive, with the same
        /// ranges and fields as `.blob`; every range's last byte waits for the digest to verify.
        case growing(GrowingBlob, contentType: String)
        /// The head of a body that is not sent: `Content-Length: length` with no bytes, for a
        /// HEAD answered from what an upstream said.
        case announced(length: UInt64, contentType: String)
    }

    public var status: Int
    /// Extra fields (Location, Range, Docker-Upload-UUID, Link, WWW-Authenticate,
    /// OCI-Namespace…). Names are tokens; values may not hold control characters.
    public var headers: [(name: String, value: String)]
    public var body: Body
    /// Called once on the connection's loop when the response has been sent, or its connection
    /// closed before that. Must be quick: it runs between events. Set by whoever counts a
    /// transfer while it runs (peer sends).
    var whenEnded: (@Sendable () -> Void)?

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// An OCI error answer: the error's status and its JSON body.
    public init(_ error: OCIError, headers: [(name: String, value: String)] = []) {
        self.init(status: error.status, headers: headers, body: .bytes(Array(error.body.utf8), contentType: "application/json"))
    }
}
