import BlobStore
import Glibc
import Synchronization

/// The OCI upload sessions in progress: `POST …/blobs/uploads/` opens one, `PATCH` appends a
/// chunk at the offset the client claims, `GET` reports progress, `PUT ?digest=` commits and
/// `DELETE` cancels. Each session streams into its own verifying `BlobWriter`, so a session
/// costs a descriptor and a hasher, never its bytes in memory.
///
/// Thread-safe. A session serves one request at a time: a second request for a session that is
/// busy is refused (the client must wait for the first answer), so chunks can never interleave.
/// Sessions untouched for `idleTimeout` seconds expire, and their temporaries vanish with them.
/// The count is capped; past it, new uploads are refused (`tooMany`) rather than grow memory.
public final class UploadSessions: Sendable {
    public enum Failure: Error, Equatable {
        /// No such session (never was, finished, cancelled or expired): BLOB_UPLOAD_UNKNOWN.
        case unknown
        /// Another request is using the session right now.
        case busy
        /// A chunk does not start where the session ends: 416 with the current range.
        case outOfOrder(expectedOffset: UInt64)
        /// Too many sessions open: 429.
        case tooMany
        /// The store refused (digest or size mismatch, disk full, I/O): the session is gone.
        case store(BlobStoreError)
    }

    private final class Session: @unchecked Sendable {
        // Guarded by `busy`: only the request that set it touches the writer.
        let repository: RepositoryName
        let writer: BlobWriter
        var lastUsed: UInt64
        var busy = false

        init(repository: RepositoryName, writer: BlobWriter, now: UInt64) {
            self.repository = repository
            self.writer = writer
            self.lastUsed = now
        }
    }

    private let store: BlobStore
    private let sessions = Mutex<[String: Session]>([:])
    private let counter = Atomic<UInt64>(0)
    /// Seconds of inactivity after which a session expires.
    public let idleTimeout: UInt64
    public let maxSessions: Int

    public init(store: BlobStore, idleTimeout: UInt64 = 15 * 60, maxSessions: Int = 1024) {
        self.store = store
        self.idleTimeout = idleTimeout
        self.maxSessions = maxSessions
    }

    /// Opens a session for `repository` and returns its id: 32 random hex digits, so ids are
    /// not guessable. Sessions hash with SHA-256, the digest every client uploads with.
    public func open(repository: RepositoryName, now: UInt64) throws(Failure) -> String {
        let writer: BlobWriter
        do { writer = try store.makeWriter() } catch { throw .store(error) }
        let id = Self.randomID(counter.wrappingAdd(1, ordering: .relaxed).newValue)
        let session = Session(repository: repository, writer: writer, now: now)
        let added = sessions.withLock { table in
            guard table.count < maxSessions else { return false }
            table[id] = session
            return true
        }
        guard added else {
            writer.abandon()
            throw .tooMany
        }
        return id
    }

    /// Bytes received so far in session `id` of `repository`.
    public func offset(of id: String, repository: RepositoryName) throws(Failure) -> UInt64 {
        try sessions.withLock { table throws(Failure) in
            guard let session = table[id], session.repository == repository else { throw .unknown }
            return session.writer.bytesWritten
        }
    }

    /// Runs `body` with the session's writer, exclusively. `startOffset`, when the client gave a
    /// Content-Range, must equal the bytes received so far. A store error ends the session.
    public func append(
        to id: String, repository: RepositoryName, startOffset: UInt64?, now: UInt64,
        _ body: (BlobWriter) throws(BlobStoreError) -> Void
    ) throws(Failure) -> UInt64 {
        let session = try claim(id, repository: repository)
        if let startOffset, startOffset != session.writer.bytesWritten {
            release(session, now: now)
            throw .outOfOrder(expectedOffset: session.writer.bytesWritten)
        }
        do {
            try body(session.writer)
        } catch {
            drop(id)
            throw .store(error)
        }
        release(session, now: now)
        return session.writer.bytesWritten
    }

    /// Commits the session as `digest` (after `finalChunk` appends its bytes, if any), ending it.
    /// On a mismatch nothing is stored and the session is gone.
    public func complete(
        _ id: String, repository: RepositoryName, digest: Digest,
        _ finalChunk: (BlobWriter) throws(BlobStoreError) -> Void
    ) throws(Failure) -> Digest {
        let session = try claim(id, repository: repository)
        drop(id)
        do {
            try finalChunk(session.writer)
            return try session.writer.commit(expecting: digest)
        } catch {
            session.writer.abandon()
            throw .store(error)
        }
    }

    /// Cancels a session; its bytes are discarded.
    public func cancel(_ id: String, repository: RepositoryName) throws(Failure) {
        let session = try claim(id, repository: repository)
        drop(id)
        session.writer.abandon()
    }

    /// Ends sessions idle for longer than `idleTimeout`. Returns how many.
    @discardableResult
    public func expire(now: UInt64) -> Int {
        let expired = sessions.withLock { table in
            let stale = table.filter { !$0.value.busy && now >= $0.value.lastUsed + idleTimeout }
            for id in stale.keys { table[id] = nil }
            return Array(stale.values)
        }
        for session in expired { session.writer.abandon() }
        return expired.count
    }

    /// Sessions open now.
    public var count: Int { sessions.withLock { $0.count } }

    private func claim(_ id: String, repository: RepositoryName) throws(Failure) -> Session {
        try sessions.withLock { table throws(Failure) in
            guard let session = table[id], session.repository == repository else { throw .unknown }
            guard !session.busy else { throw .busy }
            session.busy = true
            return session
        }
    }

    private func release(_ session: Session, now: UInt64) {
        sessions.withLock { _ in
            session.busy = false
            session.lastUsed = now
        }
    }

    private func drop(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// 128 random bits (the system generator reads the kernel's) as hex, plus a counter so two
    /// ids never collide even if the generator repeated itself.
    private static func randomID(_ counter: UInt64) -> String {
        var generator = SystemRandomNumberGenerator()
        func hex(_ word: UInt64) -> String {
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return hex(generator.next()) + hex(generator.next() &+ counter)
    }
}
