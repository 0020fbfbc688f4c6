import BlobStore
import Synchronization

/// Blobs of chosen sizes pushed to a docker-registry upstream, for the mirror to fill, and the
/// ones no client has asked the mirror for yet. Thread-safe: fill threads take from it at once.
final class UpstreamBlobs: Sendable {
    struct Blob: Sendable, Hashable {
        let digest: Digest
        let size: Int
        /// `/v2/<repository>/blobs/<digest>`, on the upstream and through the mirror alike.
        let path: String
    }

    let all: [Blob]
    private let untouched: Mutex<[Blob]>

    /// Pushes one blob of random bytes per entry of `sizes` into `repository` of `registry`,
    /// each with the spec's monolithic upload (POST for a session, PUT with `?digest=`), sent
    /// from this process: hundreds of blobs take seconds, not a curl per blob.
    init(sizes: [Int], in repository: String, of registry: DockerRegistry) throws {
        all = try sizes.map { size in
            let bytes = randomBytes(count: size)
            let digest = Digest.of(bytes)
            let session = try LoopbackExchange.perform(port: registry.port, "POST", "/v2/\(repository)/blobs/uploads/", keepingBody: true)
            guard session.isComplete, session.status == 202, let location = session.head?.header("Location") else {
                throw EndToEndFailure("docker-registry refused an upload session: \(session.summary)")
            }
            // The registry's Location is an absolute URL with a query (its state).
            let path = location.firstRange(of: registry.authority).map { String(location[$0.upperBound...]) } ?? location
            let stored = try LoopbackExchange.perform(
                port: registry.port, "PUT", path + (path.contains("?") ? "&" : "?") + "digest=\(digest)",
                headers: ["Content-Type: application/octet-stream"], body: bytes, keepingBody: true)
            guard stored.isComplete, stored.status == 201 else {
                throw EndToEndFailure("docker-registry did not store \(digest): \(stored.summary)")
            }
            return Blob(digest: digest, size: size, path: "/v2/\(repository)/blobs/\(digest)")
        }
        untouched = Mutex(all)
    }

    /// A blob no one has taken yet (so the mirror lacks it), or nil when none is left.
    func takeCold() -> Blob? {
        untouched.withLock { $0.popLast() }
    }

    /// Gives back a blob whose fill was cut off: it may or may not be in the store now.
    func giveBack(_ blob: Blob) {
        untouched.withLock { $0.insert(blob, at: 0) }
    }
}
