import BlobStore

/// Blobs by digest: `/v2/<name>/blobs/<digest>` and the plain CAS API `/blobs/<digest>`. The
/// store is content-addressed and shared, so a repository name does not partition blobs.
extension RegistryHandler {
    static let blobContentType = "application/octet-stream"

    /// `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.
    func blob(_ digest: Digest, method: HTTPMethod) -> HandlerAction {
        switch method {
        case .delete: removeBlob(digest, removedStatus: 202)
        default: serveBlob(digest)
        }
    }

    /// `GET`/`HEAD`/`PUT`/`DELETE /blobs/<digest>`.
    func casBlob(_ digest: Digest, method: HTTPMethod, _ request: RequestContext) -> HandlerAction {
        switch method {
        case .put: putBlob(digest, request.head)
        case .delete: removeBlob(digest, removedStatus: 204)
        default: serveBlob(digest)
        }
    }

    /// A hit is served by the connection (ranges, conditionals, sendfile). The index answers
    /// on the loop; only a digest it lacks costs a look at the disk, on a worker (a blob a crash
    /// left unindexed is found and adopted there). What the store lacks gets `miss`: 404, or a
    /// fill from an upstream. `onHit` may give another answer for a hit (a peer's, within the
    /// fan-out); nil keeps the plain one.
    func serveBlob(
        _ digest: Digest, miss: (@Sendable () -> HandlerAction)? = nil, onHit: (@Sendable () -> Response?)? = nil
    ) -> HandlerAction {
        let plain = Response(status: 200, body: .blob(digest, contentType: Self.blobContentType, isManifest: false))
        if store.isIndexed(digest) {
            return .respond(onHit.flatMap { $0() } ?? plain)
        }
        return .blocking { [store] in
            guard store.contains(digest) else { return miss?() ?? .respond(.oci(.blobUnknown, detail: digest.description)) }
            return .respond(onHit.flatMap { $0() } ?? plain)
        }
    }

    private func removeBlob(_ digest: Digest, removedStatus: Int) -> HandlerAction {
        .blocking { [store] in
            do throws(BlobStoreError) {
                return .respond(try store.remove(digest) ? Response(status: removedStatus) : .oci(.blobUnknown, detail: digest.description))
            } catch {
                return .respond(.storeFailure(error))
            }
        }
    }

    /// Streams the body into the store, verified against the path's digest: 201 when stored,
    /// 200 when the store already had it (the body is still read and verified, so a wrong
    /// body is a 400 either way), 400 DIGEST_INVALID with nothing stored on a mismatch.
    private func putBlob(_ digest: Digest, _ head: HTTPRequestHead) -> HandlerAction {
        // The index alone (no disk access on the loop): a blob on disk but not yet indexed
        // counts as new.
        let alreadyStored = store.isIndexed(digest)
        let sink = BlobBodySink(store: store, expected: digest, expectedSize: Self.contentLength(head)) { writer in
            do throws(BlobStoreError) {
                let stored = try writer.commit()
                return .blobCreated(stored, location: "/blobs/\(stored)", status: alreadyStored ? 200 : 201)
            } catch {
                return .storeFailure(error)
            }
        }
        return receive(sink, head)
    }
}
