/// The error codes of the OCI distribution spec (v1.1, "Error Codes"), each with the status a
/// registry answers it with. Bodies are `{"errors":[{"code","message","detail"}]}`.
public enum OCIErrorCode: String, Sendable, CaseIterable {
    case blobUnknown = "BLOB_UNKNOWN"
    case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
    case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
    case digestInvalid = "DIGEST_INVALID"
    case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
    case manifestInvalid = "MANIFEST_INVALID"
    case manifestUnknown = "MANIFEST_UNKNOWN"
    case nameInvalid = "NAME_INVALID"
    case nameUnknown = "NAME_UNKNOWN"
    case sizeInvalid = "SIZE_INVALID"
    case unauthorized = "UNAUTHORIZED"
    case denied = "DENIED"
    case unsupported = "UNSUPPORTED"
    case tooManyRequests = "TOOMANYREQUESTS"

    /// The status that goes with the code when nothing more specific applies.
    public var status: Int {
        switch self {
        case .blobUnknown, .blobUploadUnknown, .manifestUnknown, .nameUnknown: 404
        case .unauthorized: 401
        case .denied: 403
        case .unsupported: 405
        case .tooManyRequests: 429
        case .blobUploadInvalid, .digestInvalid, .manifestBlobUnknown, .manifestInvalid, .nameInvalid, .sizeInvalid: 400
        }
    }

    /// The spec's message for the code.
    public var message: String {
        switch self {
        case .blobUnknown: "blob unknown to registry"
        case .blobUploadInvalid: "blob upload invalid"
        case .blobUploadUnknown: "blob upload unknown to registry"
        case .digestInvalid: "provided digest did not match uploaded content"
        case .manifestBlobUnknown: "manifest references a manifest or blob unknown to registry"
        case .manifestInvalid: "manifest invalid"
        case .manifestUnknown: "manifest unknown to registry"
        case .nameInvalid: "invalid repository name"
        case .nameUnknown: "repository name not known to registry"
        case .sizeInvalid: "provided length did not match content length"
        case .unauthorized: "authentication required"
        case .denied: "requested access to the resource is denied"
        case .unsupported: "the operation is unsupported"
        case .tooManyRequests: "too many requests"
        }
    }
}

/// One OCI error response: code, status and an optional detail for the client.
public struct OCIError: Error, Equatable, Sendable {
    public let code: OCIErrorCode
    public let status: Int
    public let detail: String?

    public init(_ code: OCIErrorCode, status: Int? = nil, detail: String? = nil) {
        self.code = code
        self.status = status ?? code.status
        self.detail = detail
    }

    /// The JSON body. The detail is escaped: it may quote what the client sent.
    public var body: String {
        var text = #"{"errors":[{"code":"\#(code.rawValue)","message":"\#(code.message)""#
        if let detail {
            text += #","detail":"#
            Logger.appendQuoted(detail, to: &text)
        }
        return text + "}]}"
    }
}
