import BlobStore
import Synchronization

/// The OCI upload sessions in progress: `POST …/blobs/uploads/` opens one, `PATCH` appends a
/// chunk, `GET` reports progress, `PUT ?digest=` commits and `DELETE` cancels. Each session
/// streams into its own verifying `BlobWriter`, so a session costs a descriptor and a hasher,
/// never its bytes in memory.
///
/// Thread-safe. The table is guarded by one short lock and never does I/O under it, so `claim`,
/// `release`, `offset` and `expire` may run on an event loop. A request takes a session with
/// `claim` and has its writer to itself until it calls `release` (the session goes on) or `end`
/// (it is gone): that spans every `write` of a streamed body, so chunks can never interleave. A
/// second request for a claimed session is refused (`busy`).
///
/// Sessions unclaimed for `idleTimeout` seconds expire. Time is the caller's monotonic seconds,
/// as `open`, `claim` and `expire` pass it; `release` uses the latest of those, since a body may
/// stream for longer than a request's start time says. The count is capped; past it, new
/// uploads are refused (`tooMany`) rather than grow memory.
public final class UploadSessions: Sendable {
    public enum Failure: Error, Equatable {
        /// No such session (never was, finished, cancelled or expired): BLOB_UPLOAD_UNKNOWN.
        case unknown
        /// Another request is using the session right now.
        case busy
        /// Too many sessions open: 429.
        case tooMany
        /// The store could not start a writer (disk full, I/O).
        case store(BlobStoreError)
    }

    /// One upload. Its `writer` belongs to the request that claimed the session, and to nobody
    /// while it is unclaimed; `offset`, `lastUsed` and `claimed` are guarded by the table's lock.
    public final class Session: @unchecked Sendable {
        public let id: String
        public let repository: RepositoryName
        /// Use only while holding the claim.
        public let writer: BlobWriter
        /// Bytes received as of the last release, readable without the claim.
        fileprivate var settledOffset: UInt64 = 0
        fileprivate var lastUsed: UInt64
        fileprivate var claimed = false

        fileprivate init(id: String, repository: RepositoryName, writer: BlobWriter, now: UInt64) {
            self.id = id
            self.repository = repository
            self.writer = writer
            self.lastUsed = now
        }
    }

    private let store: BlobStore
    /// The sessions by id, and the latest time any caller passed.
    private let state = Mutex<(sessions: [String: Session], now: UInt64)>(([:], 0))
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
    /// Blocking: it creates the writer's temporary file.
    public func open(repository: RepositoryName, now: UInt64) throws(Failure) -> String {
        guard count < maxSessions else { throw .tooMany }
        let writer: BlobWriter
        do { writer = try store.makeWriter() } catch { throw .store(error) }
        let id = Self.randomID(counter.wrappingAdd(1, ordering: .relaxed).newValue)
        let session = Session(id: id, repository: repository, writer: writer, now: now)
        let added = state.withLock { state in
            state.now = max(state.now, now)
            guard state.sessions.count < maxSessions else { return false }
            state.sessions[id] = session
            return true
        }
        guard added else {
            writer.abandon()
            throw .tooMany
        }
        return id
    }

    /// Bytes received so far in session `id` of `repository`, as of its last release: a claimed
    /// session reports what it had before the current request.
    public func offset(of id: String, repository: RepositoryName) throws(Failure) -> UInt64 {
        try state.withLock { state throws(Failure) in
            guard let session = state.sessions[id], session.repository == repository else { throw .unknown }
            return session.settledOffset
        }
    }

    /// Takes session `id` for one request: its writer is the caller's until `release` or `end`.
    public func claim(_ id: String, repository: RepositoryName, now: UInt64) throws(Failure) -> Session {
        try state.withLock { state throws(Failure) in
            state.now = max(state.now, now)
            guard let session = state.sessions[id], session.repository == repository else { throw .unknown }
            guard !session.claimed else { throw .busy }
            session.claimed = true
            return session
        }
    }

    /// Gives a claimed session back, recording how far it got; its idle clock restarts. The
    /// caller must not touch the writer afterwards.
    public func release(_ session: Session) {
        let offset = session.writer.bytesWritten
        state.withLock { state in
            session.settledOffset = offset
            session.lastUsed = state.now
            session.claimed = false
        }
    }

    /// Removes a claimed session from the table. Its writer stays with the caller, who must
    /// commit or abandon it.
    public func end(_ session: Session) {
        state.withLock { state in
            if state.sessions[session.id] === session { state.sessions[session.id] = nil }
        }
    }

    /// Removes up to `limit` unclaimed sessions idle for `idleTimeout` seconds or more, and
    /// returns their writers for the caller to abandon (which closes and frees their files).
    public func expire(now: UInt64, limit: Int = .max) -> [BlobWriter] {
        state.withLock { state in
            state.now = max(state.now, now)
            var expired: [BlobWriter] = []
            for (id, session) in state.sessions where expired.count < limit {
                guard !session.claimed, now >= session.lastUsed &+ idleTimeout else { continue }
                state.sessions[id] = nil
                expired.append(session.writer)
            }
            return expired
        }
    }

    /// Sessions open now.
    public var count: Int { state.withLock { $0.sessions.count } }

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
