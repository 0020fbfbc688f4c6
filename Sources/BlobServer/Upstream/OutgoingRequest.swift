/// One hop of a request as the client sends it: the caller's method and fields, aimed at a
/// URL that redirects and resumption may change.
struct OutgoingRequest: Sendable {
    var method: UpstreamRequest.Method
    var url: UpstreamURL
    /// The caller's fields, checked; those the client sets itself are left out.
    var fields: [(name: String, value: String)]
    /// For the token scope `repository:<name>:pull`; empty when there is none.
    var repository: String

    /// Fields the client owns: framing, connection management, the target host and the
    /// credentials, which it sends only where they belong.
    private static let reservedFields: Set<String> = [
        "host", "authorization", "proxy-authorization", "connection", "keep-alive", "proxy-connection", "te",
        "transfer-encoding", "content-length", "upgrade", "accept-encoding",
    ]

    /// Checks the caller's fields: a name must be a token, a value must have no control
    /// character (a CR or LF would smuggle a header in).
    init(_ request: UpstreamRequest, url: UpstreamURL) throws(UpstreamError) {
        method = request.method
        self.url = url
        repository = request.repository
        fields = []
        for field in request.headers {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPParseSyntax.isTokenChar),
                field.value.utf8.allSatisfy(HTTPParseSyntax.isFieldValueByte)
            else { throw .malformed("the request field '\(field.name)' is not a valid HTTP field") }
            if !Self.reservedFields.contains(field.name.lowercased()) { fields.append(field) }
        }
    }

    init(method: UpstreamRequest.Method, url: UpstreamURL, fields: [(name: String, value: String)], repository: String) {
        self.method = method
        self.url = url
        self.fields = fields
        self.repository = repository
    }

    /// This request with `name` set to `value`, replacing any field of that name.
    func setting(_ name: String, to value: String) -> OutgoingRequest {
        var copy = self
        copy.fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
        copy.fields.append((name, value))
        return copy
    }

    /// The request head's bytes, with `authorization` when given. Bodies are never sent.
    func head(authorization: String?) -> [UInt8] {
        var text = "\(method.rawValue) \(url.target) HTTP/1.1\r\nHost: \(url.hostField)\r\n"
        if !fields.contains(where: { asciiCaseInsensitiveEquals($0.name, "User-Agent") }) {
            text += "User-Agent: blobcache/\(BlobcacheVersion.string)\r\n"
        }
        // Blobs are checked byte for byte against their digest: no content coding.
        text += "Accept-Encoding: identity\r\n"
        if let authorization { text += "Authorization: \(authorization)\r\n" }
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}
