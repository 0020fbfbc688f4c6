import BlobStore

/// Streams one chunk of an upload session (`PATCH`, or the body of the closing `PUT`) into the
/// session's writer, which the request claimed before the sink was made.
///
/// A chunk that declared its length (Content-Range or Content-Length) must bring exactly that
/// many bytes; otherwise the session ends with SIZE_INVALID, since bytes already hashed cannot
/// be taken back. A chunk cut short by the client (`abandon`) keeps what arrived: the client
/// asks for the offset and resumes from there.
///
/// `@unchecked Sendable`: the connection hands the sink from call to call, one at a time, in
/// order (see `RequestBodySink`), and the session's claim keeps every other request off the
/// writer.
final class UploadChunkSink: RequestBodySink, @unchecked Sendable {
    /// What the last byte leads to.
    enum Ending {
        /// `PATCH`: release the session and report progress.
        case keepOpen
        /// The closing `PUT`: commit the session as this digest.
        case commit(Digest)
    }

    private let sessions: UploadSessions
    private let session: UploadSessions.Session
    private let declaredLength: UInt64?
    private let ending: Ending
    private var received: UInt64 = 0

    init(sessions: UploadSessions, session: UploadSessions.Session, declaredLength: UInt64?, ending: Ending) {
        self.sessions = sessions
        self.session = session
        self.declaredLength = declaredLength
        self.ending = ending
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Response? {
        let isFirst = received == 0
        received += UInt64(bytes.count)
        if let declaredLength, received > declaredLength { return endSession(sizeInvalid: declaredLength) }
        do {
            // A declared chunk is a write of known size: room is made before its first byte, and
            // one that cannot fit is refused without emptying the store on its way out.
            if isFirst, let declaredLength { try session.writer.makeRoom(for: declaredLength) }
            try session.writer.write(bytes)
            return nil
        } catch {
            sessions.end(session)
            return .storeFailure(error)
        }
    }

    func finish() -> Response {
        if let declaredLength, received != declaredLength { return endSession(sizeInvalid: declaredLength) }
        switch ending {
        case .keepOpen:
            let offset = session.writer.bytesWritten
            sessions.release(session)
            return .uploadProgress(status: 202, repository: session.repository, id: session.id, offset: offset)
        case .commit(let digest):
            sessions.end(session)
            do {
                try session.writer.commit(expecting: digest)
                return .blobCreated(digest, location: "/v2/\(session.repository)/blobs/\(digest)")
            } catch {
                return .storeFailure(error)
            }
        }
    }

    func abandon() {
        sessions.release(session)
    }

    private func endSession(sizeInvalid declared: UInt64) -> Response {
        sessions.end(session)
        session.writer.abandon()
        return .oci(.sizeInvalid, detail: "the chunk declared \(declared) bytes and brought \(received)")
    }
}
