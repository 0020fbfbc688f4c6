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
    public init(path: Substring) throws(OCIError) {
        switch path {
        case "/v2", "/v2/": self = .base; return
        case "/metrics": self = .metrics; return
        case "/healthz": self = .healthz; return
        case "/readyz": self = .readyz; return
        default: break
        }
        if path.hasPrefix("/blobs/") {
            self = .casBlob(try Self.digest(path.dropFirst("/blobs/".count)))
            return
        }
        guard path.hasPrefix("/v2/") else { throw OCIError(.nameUnknown, status: 404, detail: "no such route") }
        var components = path.dropFirst(4).split(separator: "/", omittingEmptySubsequences: false)
        let trailingSlash = components.last == ""
        if trailingSlash { components.removeLast() }
        func name(dropping count: Int) throws(OCIError) -> RepositoryName {
            let parts = components.dropLast(count)
            guard !parts.isEmpty, let name = RepositoryName(parts.joined(separator: "/")) else {
                throw OCIError(.nameInvalid, detail: "repository names are lowercase [a-z0-9] components joined by . _ __ - and /")
            }
            return name
        }
        let count = components.count
        if count >= 3, components[count - 2] == "blobs", components[count - 1] == "uploads" {
            self = .uploads(try name(dropping: 2))
        } else if count >= 4, components[count - 3] == "blobs", components[count - 2] == "uploads" {
            let session = components[count - 1]
            guard Self.isSessionID(session) else { throw OCIError(.blobUploadUnknown, detail: "no such upload session") }
            self = .upload(try name(dropping: 3), session: String(session))
        } else if count >= 3, components[count - 2] == "blobs", !trailingSlash {
            self = .blob(try name(dropping: 2), try Self.digest(components[count - 1]))
        } else if count >= 3, components[count - 2] == "manifests", !trailingSlash {
            let reference = components[count - 1]
            if reference.contains(":") {
                self = .manifest(try name(dropping: 2), .digest(try Self.digest(reference)))
            } else if let tag = Tag(reference) {
                self = .manifest(try name(dropping: 2), .tag(tag))
            } else {
                throw OCIError(.manifestInvalid, detail: "a reference is a tag [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} or a digest")
            }
        } else if count >= 3, components[count - 2] == "tags", components[count - 1] == "list", !trailingSlash {
            self = .tags(try name(dropping: 2))
        } else if count >= 3, components[count - 2] == "referrers", !trailingSlash {
            self = .referrers(try name(dropping: 2), try Self.digest(components[count - 1]))
        } else {
            throw OCIError(.nameUnknown, status: 404, detail: "no such route")
        }
    }

    private static func digest(_ text: Substring) throws(OCIError) -> Digest {
        do { return try Digest(parsing: text) } catch { throw OCIError(.digestInvalid, detail: error.description) }
    }
}
