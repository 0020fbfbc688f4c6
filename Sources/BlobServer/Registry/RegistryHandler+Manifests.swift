import BlobStore
import Glibc

/// Manifests: `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<tag|digest>`. The bytes are a
/// blob of the store, kept exactly as pushed; the repository's records (`RegistryMetadata`)
/// give the media type, the tags and the referrers.
///
/// Choices where the spec leaves one: a manifest over 4 MiB is 413 SIZE_INVALID; the media type
/// is the manifest's `mediaType` field, else the PUT's `Content-Type` (a manifest with neither
/// is MANIFEST_INVALID); blobs a manifest references are not checked, since a cache may evict
/// them anyway; `DELETE` by tag removes the tag, by digest the manifest and its tags (its bytes
/// stay in the store, which other repositories share).
extension RegistryHandler {
    func manifest(_ reference: Route.ManifestReference, in repository: RepositoryName, _ request: RequestContext) -> HandlerAction {
        switch request.head.method {
        case .put: putManifest(reference, in: repository, request.head)
        case .delete: deleteManifest(reference, in: repository)
        default: getManifest(reference, in: repository)
        }
    }

    /// Reading the tag and the record is disk work, so the lookup runs on a worker.
    private func getManifest(_ reference: Route.ManifestReference, in repository: RepositoryName) -> HandlerAction {
        .blocking { [self] in
            do throws(SystemError) {
                switch try storedManifest(reference, in: repository) {
                case .found(let answer): return answer
                case .noTag(let tag): return .respond(.oci(.manifestUnknown, detail: "no tag \(tag) in \(repository)"))
                case .noManifest(let digest): return .respond(.oci(.manifestUnknown, detail: "\(digest) is not in \(repository)"))
                }
            } catch {
                return .respond(.serverFailure(detail: error.description))
            }
        }
    }

    enum StoredManifest {
        /// The manifest's answer: its blob, with its media type.
        case found(HandlerAction)
        case noTag(Tag)
        case noManifest(Digest)
    }

    /// What the local registry holds for `reference` in `repository`. Blocking (metadata reads).
    func storedManifest(_ reference: Route.ManifestReference, in repository: RepositoryName) throws(SystemError) -> StoredManifest {
        let digest: Digest
        switch reference {
        case .digest(let named): digest = named
        case .tag(let tag):
            guard let tagged = try metadata.digest(tagged: tag, in: repository) else { return .noTag(tag) }
            digest = tagged
        }
        guard let record = try metadata.manifest(digest, in: repository), store.contains(digest) else { return .noManifest(digest) }
        return .found(.respond(Response(status: 200, body: .blob(digest, contentType: record.mediaType, isManifest: true))))
    }

    private func putManifest(_ reference: Route.ManifestReference, in repository: RepositoryName, _ head: HTTPRequestHead) -> HandlerAction {
        let tooLarge = Response.oci(.sizeInvalid, status: 413, detail: "manifests are limited to \(ManifestDocument.maxBytes) bytes")
        let length = Self.contentLength(head)
        if let length, length > UInt64(ManifestDocument.maxBytes) { return .respond(tooLarge) }
        let contentType = head.headers.value("content-type").flatMap { MediaType.essence(of: $0) }
        var expected: Digest? = nil
        if case .digest(let digest) = reference { expected = digest }
        let sink = BlobBodySink(
            store: store, expected: expected, expectedSize: length,
            limit: .init(bytes: UInt64(ManifestDocument.maxBytes), refusal: tooLarge)
        ) { [self] writer in
            storeManifest(writer, reference: reference, in: repository, contentType: contentType)
        }
        return receive(sink, head)
    }

    /// On a worker, with the whole body in `writer`: parses it (reading back the temporary),
    /// commits it only if it is a manifest, then records it, its tag and its referrer entry.
    private func storeManifest(
        _ writer: BlobWriter, reference: Route.ManifestReference, in repository: RepositoryName, contentType: String?
    ) -> Response {
        let bytes: [UInt8]
        do { bytes = try Self.readBack(writer) } catch {
            writer.abandon()
            return .serverFailure(detail: error.description)
        }
        let document: ManifestDocument
        do { document = try ManifestDocument(parsing: bytes) } catch {
            writer.abandon()
            return Response(error)
        }
        guard let mediaType = document.mediaType ?? contentType else {
            writer.abandon()
            return .oci(.manifestInvalid, detail: "a manifest needs a mediaType field or a Content-Type")
        }
        let digest: Digest
        do { digest = try writer.commit() } catch { return .storeFailure(error) }
        let record = ManifestRecord(mediaType: mediaType, subject: document.subject)
        let descriptor = document.subject.map { _ in
            document.referrerDescriptor(digest: digest, size: UInt64(bytes.count), mediaType: mediaType)
        }
        do {
            try metadata.recordManifest(digest, record, referrerDescriptor: descriptor, in: repository)
            if case .tag(let tag) = reference { try metadata.setTag(tag, to: digest, in: repository) }
        } catch {
            return .serverFailure(detail: error.description)
        }
        var headers: [(name: String, value: String)] = [
            ("Location", "/v2/\(repository)/manifests/\(digest)"), ("Docker-Content-Digest", digest.description),
        ]
        if let subject = document.subject { headers.append(("OCI-Subject", subject.description)) }
        return Response(status: 201, headers: headers)
    }

    /// The bytes written so far to `writer`'s temporary file (at most a manifest's limit).
    private static func readBack(_ writer: BlobWriter) throws(SystemError) -> [UInt8] {
        let count = Int(writer.bytesWritten)
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let read = try bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(SystemError) in
                    try syscall("pread", path: "a manifest's temporary") {
                        pread(writer.descriptor, buffer.baseAddress! + done, count - done, off_t(done))
                    }
                }
            }.get()
            guard read > 0 else { throw SystemError(call: "pread", path: "a manifest's temporary", errno: EIO) }
            done += read
        }
        return bytes
    }

    private func deleteManifest(_ reference: Route.ManifestReference, in repository: RepositoryName) -> HandlerAction {
        .blocking { [metadata] in
            do throws(SystemError) {
                let removed: Bool
                switch reference {
                case .tag(let tag): removed = try metadata.removeTag(tag, in: repository)
                case .digest(let digest): removed = try metadata.removeManifest(digest, in: repository)
                }
                return .respond(removed ? Response(status: 202) : .oci(.manifestUnknown, detail: "not in \(repository)"))
            } catch {
                return .respond(.serverFailure(detail: error.description))
            }
        }
    }
}
