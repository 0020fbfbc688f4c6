import BlobStore

/// Manifests through the mirror. By digest they are immutable: cached like blobs, verified
/// against the digest. By tag they are cached for `tagTTL`; after it an upstream HEAD (which
/// Docker Hub does not count against its pull limit) says whether the tag moved, and only a
/// moved tag costs a GET. When the upstream is down or refuses, a cached tag is served stale
/// for up to `maxStale` past its TTL, with a log line and a metric.
///
/// The tag cache holds what a client accepting every manifest kind gets (indexes first). A
/// client whose `Accept` does not take the cached media type is answered by a GET with its own
/// `Accept`, never with a type it did not ask for.
extension Mirror {
    /// Answers from the cache on a disk worker when it can; goes upstream on a lookup thread
    /// otherwise.
    func manifest(_ reference: Route.ManifestReference, from target: UpstreamTarget, head: HTTPRequestHead) -> HandlerAction {
        let accept = AcceptedMediaTypes(field: head.headers.value("accept"))
        let isHead = head.method == .head
        return .blocking { [self] in
            // A tag's record is read once here; the revalidation upstream goes on from it.
            let tagRecord: MirrorTagRecord?
            if case .tag(let tag) = reference {
                tagRecord = try? metadata.tag(tag, namespace: target.namespace, repository: target.repository)
            } else {
                tagRecord = nil
            }
            if let cached = cachedAnswer(reference, tagRecord: tagRecord, accept) { return cached }
            return .awaiting { [self] completion in
                lookups.submit { [self] _ in
                    completion(upstreamAnswer(reference, tagRecord: tagRecord, target, accept, isHead: isHead))
                }
            }
        }
    }

    // MARK: From the cache

    private func cachedAnswer(_ reference: Route.ManifestReference, tagRecord: MirrorTagRecord?, _ accept: AcceptedMediaTypes) -> HandlerAction? {
        switch reference {
        case .digest(let digest):
            guard let record = try? metadata.manifestRecord(digest), store.contains(digest) else { return nil }
            counters.hit(.manifest)
            guard accept.admits(record.mediaType) else { return .respond(Self.notAccepted(digest.description)) }
            return Self.serve(digest, mediaType: record.mediaType)
        case .tag:
            guard let record = tagRecord, clock() < record.checked + tagTTL, accept.admits(record.mediaType), store.contains(record.digest)
            else { return nil }
            counters.hit(.tag)
            return Self.serve(record.digest, mediaType: record.mediaType)
        }
    }

    private static func serve(_ digest: Digest, mediaType: String) -> HandlerAction {
        .respond(Response(status: 200, body: .blob(digest, contentType: mediaType, isManifest: true)))
    }

    // MARK: From the upstream

    private func upstreamAnswer(
        _ reference: Route.ManifestReference, tagRecord: MirrorTagRecord?, _ target: UpstreamTarget, _ accept: AcceptedMediaTypes,
        isHead: Bool
    ) -> HandlerAction {
        switch reference {
        case .digest(let digest):
            counters.miss(.manifest)
            if isHead { return headAnswer(digest.description, target, accept, known: digest) }
            do throws(ManifestFetchFailure) {
                let fetched = try fetch(digest.description, expected: digest, target, acceptField: accept.forwarded)
                guard accept.admits(fetched.mediaType) else { return .respond(Self.notAccepted(digest.description)) }
                return Self.serve(fetched.digest, mediaType: fetched.mediaType)
            } catch {
                return .respond(error.response(for: digest.description))
            }
        case .tag(let tag):
            return revalidate(tag, cached: tagRecord, target, accept, isHead: isHead)
        }
    }

    /// The tag is past its TTL or unknown (`cached` is its record, if any): HEAD it upstream,
    /// then GET only if it moved.
    private func revalidate(
        _ tag: Tag, cached: MirrorTagRecord?, _ target: UpstreamTarget, _ accept: AcceptedMediaTypes, isHead: Bool
    ) -> HandlerAction {
        let now = clock()
        if isDown(target.namespace), let served = stale(cached, tag, target, accept, now: now, because: "the upstream failed moments ago") {
            return served
        }
        let request = UpstreamRequest(
            method: .head, path: "/v2/\(target.repository)/manifests/\(tag)", repository: target.repository,
            headers: [("Accept", AcceptedMediaTypes.everyManifestField)])
        let head: any UpstreamResponse
        do { head = try target.upstream.send(request) } catch {
            markDown(target.namespace)
            return stale(cached, tag, target, accept, now: now, because: error.description) ?? .respond(Self.upstreamFailure(error, what: "resolving \(tag)"))
        }
        head.finish()
        switch head.status {
        case 200:
            break
        case 404:
            counters.miss(.tag)
            return .respond(.oci(.manifestUnknown, detail: "the upstream has no \(target.repository):\(tag)"))
        case 429, 500...599:
            markDown(target.namespace)
            return stale(cached, tag, target, accept, now: now, because: "the upstream answered \(head.status)")
                ?? .respond(Self.upstreamFailure(.unavailable(status: head.status), what: "resolving \(tag)"))
        default:
            return .respond(.serverFailure(status: 502, detail: "the upstream answered \(head.status) for \(target.repository):\(tag)"))
        }
        let announced = head.header("docker-content-digest").flatMap { try? Digest(parsing: $0) }
        if var record = cached, let announced, record.digest == announced, store.contains(announced) {
            counters.hit(.tag)
            record.checked = now
            try? metadata.setTag(tag, record, namespace: target.namespace, repository: target.repository)
            return answer(record.digest, mediaType: record.mediaType, tag, target, accept)
        }
        counters.miss(.tag)
        if isHead, let announced, let length = head.contentLength,
           let mediaType = head.header("content-type").flatMap({ MediaType.essence(of: $0) }), accept.admits(mediaType)
        {
            // A HEAD needs no body: remember where the tag points, answer from the upstream's head.
            let record = MirrorTagRecord(digest: announced, mediaType: mediaType, size: length, checked: now)
            try? metadata.setTag(tag, record, namespace: target.namespace, repository: target.repository)
            if (try? metadata.manifestRecord(announced)) != nil, store.contains(announced) {
                return Self.serve(announced, mediaType: mediaType)
            }
            return .respond(Response(
                status: 200, headers: [("Docker-Content-Digest", announced.description)],
                body: .announced(length: length, contentType: mediaType)))
        }
        do throws(ManifestFetchFailure) {
            let fetched = try fetch(
                announced?.description ?? tag.value, expected: announced, target,
                acceptField: AcceptedMediaTypes.everyManifestField)
            let record = MirrorTagRecord(digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size, checked: now)
            try? metadata.setTag(tag, record, namespace: target.namespace, repository: target.repository)
            return answer(fetched.digest, mediaType: fetched.mediaType, tag, target, accept)
        } catch {
            if case .upstream(let cause) = error {
                return stale(cached, tag, target, accept, now: now, because: cause.description) ?? .respond(error.response(for: tag.value))
            }
            return .respond(error.response(for: tag.value))
        }
    }

    /// The tag's manifest for this client: the cached kind when it takes it, else what the
    /// upstream gives for the client's own `Accept` (not cached as the tag).
    private func answer(_ digest: Digest, mediaType: String, _ tag: Tag, _ target: UpstreamTarget, _ accept: AcceptedMediaTypes) -> HandlerAction {
        if accept.admits(mediaType) { return Self.serve(digest, mediaType: mediaType) }
        do throws(ManifestFetchFailure) {
            let fetched = try fetch(tag.value, expected: nil, target, acceptField: accept.forwarded)
            guard accept.admits(fetched.mediaType) else { return .respond(Self.notAccepted(tag.value)) }
            return Self.serve(fetched.digest, mediaType: fetched.mediaType)
        } catch {
            return .respond(error.response(for: tag.value))
        }
    }

    /// A cached tag past its TTL, when the upstream cannot answer: served while within
    /// `maxStale`, counted and logged. Nil when there is nothing to serve.
    private func stale(
        _ record: MirrorTagRecord?, _ tag: Tag, _ target: UpstreamTarget, _ accept: AcceptedMediaTypes, now: UInt64, because reason: String
    ) -> HandlerAction? {
        guard let record, now <= record.checked + tagTTL + maxStale, accept.admits(record.mediaType), store.contains(record.digest) else {
            return nil
        }
        counters.staleServe()
        logger.warn("serving a stale tag", [
            "upstream": .string(target.namespace), "repository": .string(target.repository), "tag": .string(tag.value),
            "digest": .string(record.digest.description), "age_s": .int(Int64(now > record.checked ? now - record.checked : 0)),
            "reason": .string(reason),
        ])
        return Self.serve(record.digest, mediaType: record.mediaType)
    }

    /// A HEAD by digest the cache lacks: the upstream's HEAD, no body.
    private func headAnswer(_ reference: String, _ target: UpstreamTarget, _ accept: AcceptedMediaTypes, known digest: Digest) -> HandlerAction {
        let request = UpstreamRequest(
            method: .head, path: "/v2/\(target.repository)/manifests/\(reference)", repository: target.repository,
            headers: [("Accept", accept.forwarded)])
        let head: any UpstreamResponse
        do { head = try target.upstream.send(request) } catch {
            return .respond(Self.upstreamFailure(error, what: "a HEAD of \(reference)"))
        }
        head.finish()
        switch head.status {
        case 200:
            guard let length = head.contentLength, let mediaType = head.header("content-type").flatMap({ MediaType.essence(of: $0) }) else {
                return .respond(.serverFailure(status: 502, detail: "the upstream's HEAD of \(reference) lacked a length or a type"))
            }
            return .respond(Response(
                status: 200, headers: [("Docker-Content-Digest", digest.description)],
                body: .announced(length: length, contentType: mediaType)))
        case 404:
            return .respond(.oci(.manifestUnknown, detail: "the upstream has no \(target.repository)@\(reference)"))
        default:
            return .respond(Self.upstreamFailure(.unavailable(status: head.status), what: "a HEAD of \(reference)"))
        }
    }

    private static func notAccepted(_ reference: String) -> Response {
        .oci(.manifestUnknown, detail: "no manifest for \(reference) in a media type the request accepts")
    }

    // MARK: Fetching

    /// GETs a manifest (at most `ManifestDocument.maxBytes`), verifies it against `expected`
    /// or the upstream's `Docker-Content-Digest`, and stores it with its media type.
    func fetch(
        _ reference: String, expected: Digest?, _ target: UpstreamTarget, acceptField: String
    ) throws(ManifestFetchFailure) -> (digest: Digest, mediaType: String, size: UInt64) {
        let request = UpstreamRequest(
            method: .get, path: "/v2/\(target.repository)/manifests/\(reference)", repository: target.repository,
            headers: [("Accept", acceptField)])
        let response: any UpstreamResponse
        do { response = try target.upstream.send(request) } catch { throw .upstream(error) }
        guard response.status == 200 else {
            response.abandon()
            throw response.status == 404 ? .absent : .upstream(.unavailable(status: response.status))
        }
        if let length = response.contentLength, length > UInt64(ManifestDocument.maxBytes) {
            response.abandon()
            throw .tooLarge
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let read = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(UpstreamError) in try response.read(into: buffer) }
            }
            let count: Int
            switch read {
            case .success(let value): count = value
            case .failure(let error):
                response.abandon()
                throw .upstream(error)
            }
            if count == 0 { break }
            guard bytes.count + count <= ManifestDocument.maxBytes else {
                response.abandon()
                throw .tooLarge
            }
            bytes += chunk[0..<count]
        }
        response.finish()
        let announced = response.header("docker-content-digest").flatMap { try? Digest(parsing: $0) }
        let digest: Digest
        do { digest = try store.put(bytes, expected: expected ?? announced) } catch {
            if case .digestMismatch = error {
                counters.digestMismatch()
                _ = (response as? PeerFailoverResponse)?.blamePeers()
                logger.error("manifest digest mismatch", ["upstream": .string(target.namespace), "reference": .string(reference), "error": .string(error.description)])
            }
            throw .stored(error)
        }
        (response as? PeerFailoverResponse)?.confirmPeers()
        let mediaType = Self.mediaType(of: bytes, contentType: response.header("content-type"))
        do { try metadata.recordManifest(digest, mediaType: mediaType) } catch { throw .stored(.system(error)) }
        return (digest, mediaType, UInt64(bytes.count))
    }

    /// The upstream's `Content-Type` when it names a specific type; else the document's own
    /// `mediaType`; else the generic JSON type.
    static func mediaType(of bytes: [UInt8], contentType: String?) -> String {
        let declared = contentType.flatMap { MediaType.essence(of: $0) }
        if let declared, !["application/json", "text/plain", "application/octet-stream"].contains(declared.lowercased()) {
            return declared
        }
        if let document = try? ManifestDocument(parsing: bytes), let own = document.mediaType { return own }
        return declared ?? "application/json"
    }
}

/// Why a manifest could not be fetched, and what the client is told.
enum ManifestFetchFailure: Error {
    case absent
    case tooLarge
    case upstream(UpstreamError)
    case stored(BlobStoreError)

    func response(for reference: String) -> Response {
        switch self {
        case .absent: .oci(.manifestUnknown, detail: "the upstream has no manifest \(reference)")
        case .tooLarge: .serverFailure(status: 502, detail: "the upstream's manifest \(reference) is over \(ManifestDocument.maxBytes) bytes")
        case .upstream(let error): Mirror.upstreamFailure(error, what: "fetching the manifest \(reference)")
        case .stored(.digestMismatch(let expected, let actual)):
            .serverFailure(status: 502, detail: "the upstream's manifest hashes to \(actual), not \(expected)")
        case .stored(let error): .storeFailure(error)
        }
    }
}
