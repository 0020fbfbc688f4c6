import BlobStore
import Glibc

/// The registry's view on top of the content-addressed store: which manifests each repository
/// has, what its tags point at, and which manifests refer to which. Kept on disk beside the
/// store, in `<data>/registry/`:
///
/// ```
/// tmp/                                               temporaries of atomic writes
/// repositories/<name>/_tags/<tag>                    the tagged digest, "sha256:…\n"
/// repositories/<name>/_manifests/<alg>/<hex>         a ManifestRecord (media type, subject)
/// repositories/<name>/_referrers/<alg>/<hex>/<digest>  the referrer's descriptor, under its subject
/// ```
///
/// `<name>` is the repository name with its `/`s, so it nests: `library/ubuntu`. Names,
/// tags and digests are validated by their grammars before they get here, and no name
/// component can start with `_`, so no path escapes or collides. The manifest bytes
/// themselves are blobs in the store, which may evict them: a record whose blob is gone
/// answers as unknown.
///
/// Blocking (file I/O), thread-safe; every change is durable when its method returns. Two
/// concurrent writes of one tag leave one of them, whole.
final class RegistryMetadata: Sendable {
    private let directory: MetadataDirectory
    private static let repositories = "repositories"

    /// Opens (creating if needed) the registry directory of the store at `storePath`.
    init(storePath: String) throws(SystemError) {
        directory = try MetadataDirectory(path: storePath + "/registry")
    }

    // MARK: Tags

    /// The digest `tag` points at in `repository`, or nil.
    func digest(tagged tag: Tag, in repository: RepositoryName) throws(SystemError) -> Digest? {
        guard let bytes = try directory.read(Self.tagPath(tag, repository), limit: 256) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        return try? Digest(parsing: text.prefix { $0 != "\n" })
    }

    func setTag(_ tag: Tag, to digest: Digest, in repository: RepositoryName) throws(SystemError) {
        try directory.write(Array("\(digest)\n".utf8), to: Self.tagPath(tag, repository))
    }

    /// Returns whether the tag existed.
    func removeTag(_ tag: Tag, in repository: RepositoryName) throws(SystemError) -> Bool {
        try directory.remove(Self.tagPath(tag, repository))
    }

    /// Up to `limit` tags of `repository` after `after`, ascending, and whether more follow;
    /// nil when the registry knows no such repository.
    func tags(in repository: RepositoryName, after: String?, limit: Int) throws(SystemError) -> (tags: [String], hasMore: Bool)? {
        let tagsDirectory = Self.repositoryPath(repository) + "/_tags"
        if let page = try directory.smallestNames(in: tagsDirectory, after: after, limit: limit, accept: { Tag($0) != nil }) {
            return (page.names, page.hasMore)
        }
        return directory.isDirectory(Self.repositoryPath(repository) + "/_manifests") ? ([], false) : nil
    }

    // MARK: Manifests

    /// The record of manifest `digest` in `repository`, or nil when it has none.
    func manifest(_ digest: Digest, in repository: RepositoryName) throws(SystemError) -> ManifestRecord? {
        guard let bytes = try directory.read(Self.manifestPath(digest, repository), limit: ManifestRecord.maxEncodedBytes) else {
            return nil
        }
        return ManifestRecord(decoding: bytes)
    }

    /// Records manifest `digest` in `repository`, and under its subject the referrer
    /// `descriptor` (JSON text), when it has a subject.
    func recordManifest(
        _ digest: Digest, _ record: ManifestRecord, referrerDescriptor descriptor: String?, in repository: RepositoryName
    ) throws(SystemError) {
        try directory.write(record.encoded, to: Self.manifestPath(digest, repository))
        if let subject = record.subject, let descriptor {
            try directory.write(Array(descriptor.utf8), to: Self.referrerPath(digest, subject: subject, repository))
        }
    }

    /// Forgets manifest `digest` in `repository`: the tags that point at it, its referrer entry
    /// and its record (its bytes stay in the store, which other repositories may share). Returns
    /// whether the repository had it.
    func removeManifest(_ digest: Digest, in repository: RepositoryName) throws(SystemError) -> Bool {
        guard let record = try manifest(digest, in: repository) else { return false }
        var after: String? = nil
        while let page = try directory.smallestNames(
            in: Self.repositoryPath(repository) + "/_tags", after: after, limit: 256, accept: { Tag($0) != nil }),
            let last = page.names.last
        {
            for name in page.names {
                guard let tag = Tag(name), try self.digest(tagged: tag, in: repository) == digest else { continue }
                _ = try removeTag(tag, in: repository)
            }
            guard page.hasMore else { break }
            after = last
        }
        if let subject = record.subject {
            try directory.remove(Self.referrerPath(digest, subject: subject, repository))
        }
        return try directory.remove(Self.manifestPath(digest, repository))
    }

    // MARK: Referrers

    /// Up to `limit` digests of manifests in `repository` whose subject is `subject`, after
    /// `after`, ascending, and whether more follow.
    func referrers(
        of subject: Digest, in repository: RepositoryName, after: Digest?, limit: Int
    ) throws(SystemError) -> (digests: [Digest], hasMore: Bool) {
        let page = try directory.smallestNames(
            in: Self.referrersDirectory(subject, repository), after: after?.description, limit: limit,
            accept: { (try? Digest(parsing: $0)) != nil })
        guard let page else { return ([], false) }
        return (page.names.compactMap { try? Digest(parsing: $0) }, page.hasMore)
    }

    /// The descriptor stored for `referrer` under `subject`, as JSON bytes.
    func referrerDescriptor(_ referrer: Digest, subject: Digest, in repository: RepositoryName) throws(SystemError) -> [UInt8]? {
        try directory.read(Self.referrerPath(referrer, subject: subject, repository), limit: ManifestDocument.maxBytes)
    }

    // MARK: Layout

    private static func repositoryPath(_ repository: RepositoryName) -> String {
        "\(repositories)/\(repository.value)"
    }

    private static func tagPath(_ tag: Tag, _ repository: RepositoryName) -> String {
        "\(repositoryPath(repository))/_tags/\(tag.value)"
    }

    private static func manifestPath(_ digest: Digest, _ repository: RepositoryName) -> String {
        "\(repositoryPath(repository))/_manifests/\(digest.algorithm)/\(digest.hex)"
    }

    private static func referrersDirectory(_ subject: Digest, _ repository: RepositoryName) -> String {
        "\(repositoryPath(repository))/_referrers/\(subject.algorithm)/\(subject.hex)"
    }

    private static func referrerPath(_ referrer: Digest, subject: Digest, _ repository: RepositoryName) -> String {
        "\(referrersDirectory(subject, repository))/\(referrer)"
    }
}
