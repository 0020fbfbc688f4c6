import BlobStore

/// The calls of the OCI distribution API that the fault tests make, each request on its own
/// connection (`LoopbackExchange`): monolithic and chunked uploads, manifest pushes, and GETs. Blocking; any
/// thread.
struct OCIBlobClient {
    let port: UInt16

    /// The step an upload ended with: its last, or the first that did not get what it should.
    struct Step {
        /// `POST`, `PATCH a-b` or `PUT`.
        let name: String
        /// The status this step should get.
        let expected: Int
        let outcome: LoopbackExchange.Outcome

        /// It got its status, whole and in time.
        var succeeded: Bool { outcome.isComplete && !outcome.timedOut && outcome.status == expected }
    }

    /// `POST /v2/<repository>/blobs/uploads/?digest=` with the whole blob: 201 when stored.
    func uploadWhole(_ bytes: [UInt8], digest: Digest, to repository: String) throws -> Step {
        let outcome = try exchange("POST", "/v2/\(repository)/blobs/uploads/?digest=\(digest)", body: bytes)
        return Step(name: "POST ?digest=", expected: 201, outcome: outcome)
    }

    /// How an upload session's `PATCH`es tell their length.
    enum Framing {
        /// `Content-Range` and `Content-Length`: the store makes room before each chunk.
        case declared
        /// `Transfer-Encoding: chunked` and no range, as `docker push` streams a layer: the store
        /// learns the blob's length only at the end, so its writes meet a full disk as ENOSPC.
        case streamed
    }

    /// `POST` for a session (202), `chunks` `PATCH`es framed as `framing` says (202 each), then
    /// `PUT ?digest=` (201).
    func uploadInChunks(
        _ bytes: [UInt8], digest: Digest, chunks: Int, framing: Framing = .declared, to repository: String
    ) throws -> Step {
        let opened = Step(name: "POST", expected: 202, outcome: try exchange("POST", "/v2/\(repository)/blobs/uploads/"))
        guard opened.succeeded else { return opened }
        guard let location = opened.outcome.head?.header("Location") else {
            throw EndToEndFailure("a session start answered 202 without a Location")
        }
        var start = 0
        for chunk in 0..<chunks {
            let end = chunk == chunks - 1 ? bytes.count : start + bytes.count / chunks
            let range = "\(start)-\(end - 1)"
            let patched: LoopbackExchange.Outcome
            switch framing {
            case .declared:
                patched = try exchange(
                    "PATCH", location, ["Content-Type: application/octet-stream", "Content-Range: \(range)"], body: Array(bytes[start..<end]))
            case .streamed:
                patched = try exchange(
                    "PATCH", location, ["Content-Type: application/octet-stream", "Transfer-Encoding: chunked"],
                    body: Self.chunkedEncoding(bytes[start..<end]))
            }
            let step = Step(name: "PATCH \(range)", expected: 202, outcome: patched)
            guard step.succeeded else { return step }
            start = end
        }
        let closed = try exchange("PUT", location + (location.contains("?") ? "&" : "?") + "digest=\(digest)")
        return Step(name: "PUT ?digest=", expected: 201, outcome: closed)
    }

    /// `bytes` in HTTP/1.1 chunked framing, 64 KiB a chunk.
    private static func chunkedEncoding(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var framed: [UInt8] = []
        framed.reserveCapacity(bytes.count + bytes.count / 4096 + 16)
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = min(start + (64 << 10), bytes.endIndex)
            framed += Array("\(String(end - start, radix: 16))\r\n".utf8)
            framed += bytes[start..<end]
            framed += [13, 10]
            start = end
        }
        return framed + Array("0\r\n\r\n".utf8)
    }

    /// `PUT /v2/<repository>/manifests/<tag>`: 201 when stored and tagged.
    func putManifest(_ bytes: [UInt8], mediaType: String, tag: String, to repository: String) throws -> LoopbackExchange.Outcome {
        try exchange("PUT", "/v2/\(repository)/manifests/\(tag)", ["Content-Type: \(mediaType)"], body: bytes)
    }

    /// `GET path`; the body is hashed, and kept when asked (to read an error's body).
    func get(_ path: String, keepingBody: Bool = false) throws -> LoopbackExchange.Outcome {
        try LoopbackExchange.perform(port: port, "GET", path, keepingBody: keepingBody)
    }

    private func exchange(_ method: String, _ target: String, _ headers: [String] = [], body: [UInt8] = []) throws -> LoopbackExchange.Outcome {
        try LoopbackExchange.perform(port: port, method, target, headers: headers, body: body, keepingBody: true)
    }
}
