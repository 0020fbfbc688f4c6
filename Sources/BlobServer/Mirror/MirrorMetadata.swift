import BlobStore
import Glibc

/// What the mirror remembers beside the blobs, in `<data>/mirror/`:
///
/// ```
/// tmp/                                          temporaries of atomic writes
/// manifests/<alg>/<hex>                         the media type of a cached manifest (ManifestRecord)
/// tags/<ns>/<repository>/_tags/<tag>            a MirrorTagRecord: what the tag resolved to, and when
/// ```
///
/// `<ns>` is a validated registry host (or `_default`), `<repository>` the validated name on
/// the upstream (no component starts with `_`), `<tag>` a validated tag: no path escapes.
/// Kept apart from the local registry's records, so mirrored tags never mix with pushed ones.
///
/// Blocking (file I/O), thread-safe; every write is atomic and durable when it returns.
final class MirrorMetadata: Sendable {
    private let directory: MetadataDirectory

    init(storePath: String) throws(SystemError) {
        directory = try MetadataDirectory(path: storePath + "/mirror")
    }

    func manifestRecord(_ digest: Digest) throws(SystemError) -> ManifestRecord? {
        guard let bytes = try directory.read(Self.manifestPath(digest), limit: ManifestRecord.maxEncodedBytes) else { return nil }
        return ManifestRecord(decoding: bytes)
    }

    func recordManifest(_ digest: Digest, mediaType: String) throws(SystemError) {
        try directory.write(ManifestRecord(mediaType: mediaType, subject: nil).encoded, to: Self.manifestPath(digest))
    }

    func tag(_ tag: Tag, namespace: String, repository: String) throws(SystemError) -> MirrorTagRecord? {
        guard let bytes = try directory.read(Self.tagPath(tag, namespace, repository), limit: MirrorTagRecord.maxEncodedBytes) else {
            return nil
        }
        return MirrorTagRecord(decoding: bytes)
    }

    func setTag(_ tag: Tag, _ record: MirrorTagRecord, namespace: String, repository: String) throws(SystemError) {
        try directory.write(record.encoded, to: Self.tagPath(tag, namespace, repository))
    }

    private static func manifestPath(_ digest: Digest) -> String {
        "manifests/\(digest.algorithm)/\(digest.hex)"
    }

    private static func tagPath(_ tag: Tag, _ namespace: String, _ repository: String) -> String {
        "tags/\(namespace)/\(repository)/_tags/\(tag.value)"
    }
}
