import BlobStore

/// Blob uploads: `POST /v2/<name>/blobs/uploads/` (a session, a monolithic upload with
/// `?digest=`, or a mount with `?mount=&from=`), then `PATCH`, `PUT ?digest=`, `GET` and
/// `DELETE` on `/v2/<name>/blobs/uploads/<id>`.
///
/// Status codes where the spec leaves a choice: a session busy with another request is 409
/// BLOB_UPLOAD_INVALID; too many sessions is 429 TOOMANYREQUESTS; a chunk whose Content-Range
/// is malformed or does not start at the session's offset is 416 with the session's `Range`;
/// a Content-Range that disagrees with Content-Length is 400 SIZE_INVALID (the session goes
/// on: nothing was written), and a body that disagrees with them ends the session.
extension RegistryHandler {
    /// `POST /v2/<name>/blobs/uploads/`.
    func startUpload(in repository: RepositoryName, _ request: RequestContext, _ query: QueryParameters) -> HandlerAction {
        if let text = query["digest"] {
            guard let digest = try? Digest(parsing: text) else {
                return .respond(.oci(.digestInvalid, detail: "'\(text.prefix(80))' is not a digest"))
            }
            return monolithicUpload(digest, in: repository, request.head)
        }
        // A mount of a blob the store has succeeds whatever `from` says: blobs are shared. Any
        // other mount falls back to a session, as the spec asks.
        let mount = query["mount"].flatMap { try? Digest(parsing: $0) }
        let now = request.now
        return .blocking { [uploads, store] in
            if let mount, store.contains(mount) {
                return .respond(.blobCreated(mount, location: "/v2/\(repository)/blobs/\(mount)"))
            }
            do throws(UploadSessions.Failure) {
                let id = try uploads.open(repository: repository, now: now)
                return .respond(.uploadProgress(status: 202, repository: repository, id: id, offset: 0))
            } catch {
                return .respond(.uploadFailure(error))
            }
        }
    }

    /// `POST ?digest=` with the whole blob as the body.
    private func monolithicUpload(_ digest: Digest, in repository: RepositoryName, _ head: HTTPRequestHead) -> HandlerAction {
        let sink = BlobBodySink(store: store, expected: digest, expectedSize: Self.contentLength(head)) { writer in
            do throws(BlobStoreError) {
                let stored = try writer.commit()
                return .blobCreated(stored, location: "/v2/\(repository)/blobs/\(stored)")
            } catch {
                return .storeFailure(error)
            }
        }
        return receive(sink, head)
    }

    /// Requests on `/v2/<name>/blobs/uploads/<id>`.
    func continueUpload(_ id: String, in repository: RepositoryName, _ request: RequestContext, _ query: QueryParameters) -> HandlerAction {
        switch request.head.method {
        case .get:
            do {
                let offset = try uploads.offset(of: id, repository: repository)
                return .respond(.uploadProgress(status: 204, repository: repository, id: id, offset: offset))
            } catch {
                return .respond(.uploadFailure(error))
            }
        case .delete:
            let session: UploadSessions.Session
            do { session = try uploads.claim(id, repository: repository, now: request.now) } catch {
                return .respond(.uploadFailure(error))
            }
            uploads.end(session)
            return .blocking {
                session.writer.abandon()
                return .respond(Response(status: 204))
            }
        case .put:
            guard let text = query["digest"] else {
                return .respond(.oci(.digestInvalid, detail: "the closing PUT needs ?digest=<digest of the whole blob>"))
            }
            guard let digest = try? Digest(parsing: text) else {
                return .respond(.oci(.digestInvalid, detail: "'\(text.prefix(80))' is not a digest"))
            }
            guard digest.algorithm == .sha256 else {
                return .respond(.oci(.digestInvalid, detail: "chunked uploads are verified with sha256"))
            }
            return appendChunk(to: id, in: repository, request, ending: .commit(digest))
        default:
            return appendChunk(to: id, in: repository, request, ending: .keepOpen)
        }
    }

    /// `PATCH`, or the closing `PUT` with its optional last chunk: claims the session, checks
    /// the chunk's declared range against it, and streams the body in.
    private func appendChunk(
        to id: String, in repository: RepositoryName, _ request: RequestContext, ending: UploadChunkSink.Ending
    ) -> HandlerAction {
        let session: UploadSessions.Session
        do { session = try uploads.claim(id, repository: repository, now: request.now) } catch {
            return .respond(.uploadFailure(error))
        }
        // Claimed: the writer is ours, so its offset is stable.
        let offset = session.writer.bytesWritten
        let declared: UInt64?
        switch Self.declaredChunkLength(request.head, offset: offset) {
        case .success(let length):
            declared = length
        case .failure(let error):
            uploads.release(session)
            return .respond(.uploadProgress(status: error.status, repository: repository, id: id, offset: offset, error: error))
        }
        let sink = UploadChunkSink(sessions: uploads, session: session, declaredLength: declared, ending: ending)
        return receive(sink, request.head)
    }

    /// How many bytes a chunk says it brings: from `Content-Range` (which must start at
    /// `offset`) and `Content-Length`, which must agree; nil for a chunked body without a range.
    static func declaredChunkLength(_ head: HTTPRequestHead, offset: UInt64) -> Result<UInt64?, OCIError> {
        let length = contentLength(head)
        guard let field = head.headers.value("content-range") else { return .success(length) }
        guard case .bytes(let range, _)? = ContentRange(parsing: field) else {
            return .failure(OCIError(.blobUploadInvalid, status: 416, detail: "Content-Range must be <first>-<last>"))
        }
        guard range.first == offset else {
            return .failure(OCIError(.blobUploadInvalid, status: 416, detail: "the chunk must start at byte \(offset)"))
        }
        let rangeLength = range.count
        if let length, length != rangeLength {
            return .failure(OCIError(.sizeInvalid, detail: "Content-Range covers \(rangeLength) bytes, Content-Length says \(length)"))
        }
        return .success(rangeLength)
    }
}
