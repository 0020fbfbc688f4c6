import BlobStore

/// The answers registry routes share.
extension Response {
    /// An OCI error: the code's status unless `status` says otherwise, and its JSON body.
    static func oci(
        _ code: OCIErrorCode, status: Int? = nil, detail: String? = nil, headers: [(name: String, value: String)] = []
    ) -> Response {
        Response(OCIError(code, status: status, detail: detail), headers: headers)
    }

    /// A server-side failure (5xx). The spec's codes are for client errors, so the body uses
    /// `UNKNOWN`, as registry:2 does.
    static func serverFailure(status: Int = 500, detail: String) -> Response {
        var body = #"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"#
        Logger.appendQuoted(detail, to: &body)
        body += "}]}"
        return Response(status: status, body: .bytes(Array(body.utf8), contentType: "application/json"))
    }

    /// The answer to a failed store write: the client's mismatches are 400, a full disk 507
    /// (retryable elsewhere), anything else 500.
    static func storeFailure(_ error: BlobStoreError) -> Response {
        switch error {
        case .digestMismatch: .oci(.digestInvalid, detail: error.description)
        case .sizeMismatch: .oci(.sizeInvalid, detail: error.description)
        case .insufficientStorage: .serverFailure(status: 507, detail: error.description)
        case .system, .directoryLocked, .writerFinished: .serverFailure(detail: error.description)
        }
    }

    /// 201 for a blob now in the store: `Location` and `Docker-Content-Digest`.
    static func blobCreated(_ digest: Digest, location: String, status: Int = 201) -> Response {
        Response(status: status, headers: [("Location", location), ("Docker-Content-Digest", digest.description)])
    }

    /// An upload session's progress: `Location`, `Range: 0-<last byte>` and
    /// `Docker-Upload-UUID`. Like registry:2, an empty session reports `0-0`.
    static func uploadProgress(
        status: Int, repository: RepositoryName, id: String, offset: UInt64, error: OCIError? = nil
    ) -> Response {
        let headers: [(name: String, value: String)] = [
            ("Location", "/v2/\(repository)/blobs/uploads/\(id)"),
            ("Range", "0-\(offset == 0 ? 0 : offset - 1)"),
            ("Docker-Upload-UUID", id),
        ]
        if let error { return Response(error, headers: headers) }
        return Response(status: status, headers: headers)
    }

    /// The answer for a session request that `sessions` refused.
    static func uploadFailure(_ failure: UploadSessions.Failure) -> Response {
        switch failure {
        case .unknown: .oci(.blobUploadUnknown, detail: "no such upload session; it may have expired")
        case .busy: .oci(.blobUploadInvalid, status: 409, detail: "another request is using this upload session")
        case .tooMany: .oci(.tooManyRequests, detail: "too many uploads in progress")
        case .store(let error): .storeFailure(error)
        }
    }
}
