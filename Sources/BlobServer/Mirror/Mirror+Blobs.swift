import BlobStore

/// Blobs the store lacks, from the upstream.
extension Mirror {
    static let blobContentType = "application/octet-stream"

    /// A GET joins (or starts) the digest's fill and is answered from the growing file as soon
    /// as the upstream's head arrives; ranges get 206 from it too. A HEAD costs one upstream
    /// HEAD, or nothing while a fill already knows the length: no body is downloaded for it.
    /// A member's GET (`peer`) is answered within the fan-out (`peerAnswer`).
    func missingBlob(_ digest: Digest, from target: UpstreamTarget, isHead: Bool, peer: SocketAddress? = nil) -> HandlerAction {
        counters.miss(.blob)
        if isHead {
            if let growing = fills.growing(digest) {
                return .respond(Response(status: 200, body: .growing(growing, contentType: Self.blobContentType)))
            }
            return .awaiting { [self] completion in
                lookups.submit { [self] _ in completion(headBlob(digest, from: target)) }
            }
        }
        return .awaiting { [self] completion in
            fills.fetch(digest, from: target) { [peers] outcome in
                let action = Self.answer(outcome, digest: digest)
                guard let peer, let peers, case .respond(let response) = action, response.status == 200 else { return completion(action) }
                completion(.respond(Self.peerAnswer(response, digest: digest, to: peer, peers, target: target)))
            }
        }
    }

    private static func answer(_ outcome: BlobFill.Outcome, digest: Digest) -> HandlerAction {
        switch outcome {
        case .streaming(let growing):
            .respond(Response(status: 200, body: .growing(growing, contentType: blobContentType)))
        case .stored:
            .respond(Response(status: 200, body: .blob(digest, contentType: blobContentType, isManifest: false)))
        case .absent:
            .respond(.oci(.blobUnknown, detail: "\(digest) is not in the upstream either"))
        case .upstreamFailed(let error):
            .respond(upstreamFailure(error, what: "fetching \(digest) from the upstream"))
        case .failed(let detail):
            .respond(.serverFailure(status: 502, detail: "fetching \(digest) from the upstream failed: \(detail)"))
        case .noSpace(let detail):
            .respond(.serverFailure(status: 507, detail: "no room to store \(digest) from the upstream: \(detail)"))
        }
    }

    /// On a lookup thread: the upstream's HEAD of the blob, answered with its length and digest.
    private func headBlob(_ digest: Digest, from target: UpstreamTarget) -> HandlerAction {
        let request = UpstreamRequest(method: .head, path: "/v2/\(target.repository)/blobs/\(digest)", repository: target.repository)
        let response: any UpstreamResponse
        do { response = try target.upstream.send(request) } catch {
            return .respond(Self.upstreamFailure(error, what: "a HEAD of \(digest)"))
        }
        response.finish()
        switch response.status {
        case 200:
            guard let length = response.contentLength else {
                return .respond(.serverFailure(status: 502, detail: "the upstream's HEAD of \(digest) gave no length"))
            }
            let fields: [(name: String, value: String)] = [
                ("Docker-Content-Digest", digest.description), ("ETag", "\"\(digest)\""), ("Accept-Ranges", "bytes"),
            ]
            return .respond(Response(status: 200, headers: fields, body: .announced(length: length, contentType: Self.blobContentType)))
        case 404:
            return .respond(.oci(.blobUnknown, detail: "\(digest) is not in the upstream either"))
        default:
            return .respond(.serverFailure(status: 502, detail: "the upstream answered \(response.status) to a HEAD of \(digest)"))
        }
    }

    /// The answer when the upstream could not be asked: 429 passes through (the client should
    /// back off too); everything else is a bad gateway.
    static func upstreamFailure(_ error: UpstreamError, what: String) -> Response {
        if case .unavailable(429) = error {
            return .oci(.tooManyRequests, detail: "the upstream is rate-limiting \(what)")
        }
        return .serverFailure(status: 502, detail: "\(what) failed: \(error)")
    }
}
