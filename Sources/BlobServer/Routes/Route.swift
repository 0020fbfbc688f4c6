import BlobStore

/// What a request path asks for. Built from the raw (still percent-encoded) path: names, tags
/// and digests are validated by their grammars, which admit no `%`, `..` or empty component,
/// so nothing in a route can reach outside the store.
public enum Route: Equatable, Sendable {
    /// `GET /v2/`: API version check.
    case base
    /// `/v2/<name>/blobs/<digest>`
    case blob(RepositoryName, Digest)
    /// `/v2/<name>/blobs/uploads/`: start an upload.
    case uploads(RepositoryName)
    /// `/v2/<name>/blobs/uploads/<session>`
    case upload(RepositoryName, session: String)
    /// `/v2/<name>/manifests/<reference>`
    case manifest(RepositoryName, ManifestReference)
    /// `/v2/<name>/tags/list`
    case tags(RepositoryName)
    /// `/v2/<name>/referrers/<digest>`
    case referrers(RepositoryName, Digest)
    /// `/blobs/<algorithm>:<hex>`: the plain CAS API.
    case casBlob(Digest)
    case metrics
    case healthz
    case readyz

    /// A manifest is addressed by tag or by digest.
    public enum ManifestReference: Equatable, Sendable {
        case tag(Tag)
        case digest(Digest)
    }

    /// Session ids are ours (hex), so anything else is unknown rather than malformed.
    static func isSessionID(_ text: Substring) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) || $0 == UInt8(ascii: "-")
        }
    }

    /// Resolves `path` (no query). Errors are the OCI error to answer with: NAME_INVALID,
    /// DIGEST_INVALID, BLOB_UPLOAD_UNKNOWN, MANIFEST_INVALID (a bad reference), or NAME_UNKNOWN
    /// with status 404 for paths that are no route at all.
    ///
    /// Works on the path's bytes: it runs for every request, so it makes no String but the
    /// repository name, and no array but the component boundaries.
    public init(path: Substring) throws(OCIError) {
        var path = path
        let resolved = path.withUTF8 { bytes in
            Result { () throws(OCIError) -> Route in try Self.resolve(UnsafeRawBufferPointer(bytes)) }
        }
        self = try resolved.get()
    }

    private static func resolve(_ path: UnsafeRawBufferPointer) throws(OCIError) -> Route {
        func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
            literal.withUTF8Buffer { UnsafeRawBufferPointer(rebasing: path[range]).elementsEqual($0) }
        }
        let all = 0..<path.count
        if equals(all, "/v2") || equals(all, "/v2/") { return .base }
        if equals(all, "/metrics") { return .metrics }
        if equals(all, "/healthz") { return .healthz }
        if equals(all, "/readyz") { return .readyz }
        if path.count > 7, equals(0..<7, "/blobs/") {
            return .casBlob(try digest(UnsafeRawBufferPointer(rebasing: path[7...])))
        }
        guard path.count > 4, equals(0..<4, "/v2/") else { throw OCIError(.nameUnknown, status: 404, detail: "no such route") }

        // Components after /v2/, as ranges; a trailing slash leaves a last empty one, dropped.
        var components: [Range<Int>] = []
        var componentStart = 4
        for index in 4..<path.count where path[index] == UInt8(ascii: "/") {
            components.append(componentStart..<index)
            componentStart = index + 1
        }
        let trailingSlash = componentStart == path.count
        if !trailingSlash { components.append(componentStart..<path.count) }
        let count = components.count
        func component(_ fromEnd: Int) -> Range<Int> { components[count - fromEnd] }
        func name(dropping suffix: Int) throws(OCIError) -> RepositoryName {
            guard count > suffix else { throw invalidName }
            let range = components[0].lowerBound..<components[count - suffix - 1].upperBound
            guard let name = RepositoryName(utf8: UnsafeRawBufferPointer(rebasing: path[range])) else { throw invalidName }
            return name
        }

        if count >= 3, equals(component(2), "blobs"), equals(component(1), "uploads") {
            return .uploads(try name(dropping: 2))
        }
        if count >= 4, equals(component(3), "blobs"), equals(component(2), "uploads") {
            let session = String(decoding: UnsafeRawBufferPointer(rebasing: path[component(1)]), as: UTF8.self)
            guard isSessionID(Substring(session)) else { throw OCIError(.blobUploadUnknown, detail: "no such upload session") }
            return .upload(try name(dropping: 3), session: session)
        }
        guard count >= 3, !trailingSlash else { throw OCIError(.nameUnknown, status: 404, detail: "no such route") }
        let last = UnsafeRawBufferPointer(rebasing: path[component(1)])
        if equals(component(2), "blobs") {
            return .blob(try name(dropping: 2), try digest(last))
        }
        if equals(component(2), "manifests") {
            let repository = try name(dropping: 2)
            if last.contains(UInt8(ascii: ":")) { return .manifest(repository, .digest(try digest(last))) }
            guard let tag = Tag(String(decoding: last, as: UTF8.self)) else {
                throw OCIError(.manifestInvalid, detail: "a reference is a tag [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} or a digest")
            }
            return .manifest(repository, .tag(tag))
        }
        if equals(component(2), "tags"), equals(component(1), "list") {
            return .tags(try name(dropping: 2))
        }
        if equals(component(2), "referrers") {
            return .referrers(try name(dropping: 2), try digest(last))
        }
        throw OCIError(.nameUnknown, status: 404, detail: "no such route")
    }

    private static let invalidName = OCIError(
        .nameInvalid, detail: "repository names are lowercase [a-z0-9] components joined by . _ __ - and /")

    private static func digest(_ bytes: UnsafeRawBufferPointer) throws(OCIError) -> Digest {
        do { return try Digest(parsing: bytes) } catch { throw OCIError(.digestInvalid, detail: error.description) }
    }
}
