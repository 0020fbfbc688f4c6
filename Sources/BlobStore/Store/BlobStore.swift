import CBlobSys
import Glibc
import Synchronization

/// A directory of blobs stored under their digests, with an LRU index whose size cap tracks
/// free disk. Usable on its own, with no server.
///
/// Thread-safe: any thread may call any method. Index changes happen under one short lock;
/// file I/O (open, fsync, unlink, hashing) happens outside it. A background thread recomputes
/// the size cap, keeps the page cache of store files within budget, folds the journal into
/// snapshots and, once after opening, reconciles the index with the directory.
///
/// Durability: a blob is visible (to `open`, `contains`, `list`) only once its bytes and its
/// directory entry are fsynced. Nothing partial is ever visible, even after `kill -9`.
///
/// One process at a time: the directory is locked (flock) while a store has it open.
public final class BlobStore: Sendable {
    /// The data directory as given.
    public let path: String
    public let options: BlobStoreOptions
    /// The data directory; every path is resolved relative to it.
    let root: FileDescriptor
    /// Held (flock) for the store's life; closing it releases the directory.
    private let lockFile: FileDescriptor
    let state: Mutex<StoreState>
    let sleeper = WakeableSleeper()
    private let maintenance: Mutex<SystemThread?> = Mutex(nil)
    /// Held for a whole page-cache trim (see `trimPageCache`).
    let pageCacheTrim = Mutex<Void>(())
    private let closed = Atomic<Bool>(false)
    private let temporaryCounter = Atomic<UInt64>(0)

    /// Opens (creating if needed) the store in `directory`. Returns once the index is loaded
    /// from its snapshot and journal: no directory scan happens here.
    public init(directory: String, options: BlobStoreOptions = BlobStoreOptions()) throws(BlobStoreError) {
        self.path = directory
        self.options = options
        do {
            try StoreLayout.makeDirectory(directory, in: AT_FDCWD)
            root = try FileDescriptor.openDirectory(directory)
            lockFile = try FileDescriptor.open(StoreLayout.lock, in: root.rawValue, flags: O_RDWR | O_CREAT, mode: 0o644)
        } catch {
            throw .system(error)
        }
        if flock(lockFile.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let code = cbs_errno()
            if code == EWOULDBLOCK { throw .directoryLocked(path: directory) }
            throw .system(SystemError(call: "flock", path: directory, errno: code))
        }
        do {
            try StoreLayout.create(in: root.rawValue)
            let loaded = try Self.loadIndex(root: root.rawValue, capacity: options.resolvedMaxEntries)
            state = Mutex(loaded.state)
            for victim in loaded.evicted { unlinkBlob(victim) }
        } catch {
            throw .system(error)
        }
        refreshCapacity(incoming: 0)
        startMaintenance()
    }

    deinit {
        sleeper.stop()
    }

    /// Reads the snapshot, replays the journal, and starts a fresh journal when the old one
    /// does not follow the snapshot.
    private static func loadIndex(
        root: Int32, capacity: Int
    ) throws(SystemError) -> (state: StoreState, evicted: [Digest]) {
        var index = BlobIndex(capacity: capacity)
        var evicted: [Digest] = []
        let snapshotGeneration = try IndexSnapshot.load(into: index, root: root) { evicted.append($0) }
        if snapshotGeneration == nil, index.count > 0 {
            // A damaged snapshot: start empty; reconciliation rebuilds from the directory.
            index = BlobIndex(capacity: capacity)
            evicted = []
        }
        let generation = snapshotGeneration ?? 0
        let replayed = try IndexJournal.replay(generation: generation, root: root) { operation, record in
            switch operation {
            case .add:
                if let victim = index.insert(record.digest, size: record.size, at: .hottest).evicted {
                    evicted.append(victim.digest)
                }
            case .remove:
                index.remove(record.digest)
            }
        }
        let journal: IndexJournal
        if let replayed { journal = replayed } else { journal = try IndexJournal.create(generation: generation, root: root) }
        let state = StoreState(index: index, journal: journal, generation: generation)
        for victim in evicted { state.log(.remove, victim, size: 0) }
        return (state, evicted)
    }

    // MARK: Reading

    /// Opens `digest` for reading and marks it recently used. Returns nil on a miss.
    ///
    /// The caller owns the returned descriptor. A blob committed by an earlier process but
    /// missing from the index (a journal record lost to a crash) is found and adopted.
    public func open(_ digest: Digest) throws(BlobStoreError) -> OpenBlob? {
        let indexedSize = state.withLock { $0.index.touch(digest) }
        let raw = StoreLayout.withPath(of: digest) { path in
            cbs_openat(root.rawValue, path, O_RDONLY | cbs_O_CLOEXEC | cbs_O_NOFOLLOW, 0)
        }
        if raw < 0 {
            let code = cbs_errno()
            if code == ENOENT {
                if indexedSize != nil { forget(digest) }
                return nil
            }
            throw .system(SystemError(call: "openat", path: StoreLayout.path(of: digest), errno: code))
        }
        let descriptor = FileDescriptor(owning: raw)
        if let indexedSize { return OpenBlob(digest: digest, descriptor: descriptor, size: indexedSize) }
        let size: UInt64
        do { size = try descriptor.size(path: StoreLayout.path(of: digest)) } catch { throw .system(error) }
        adopt(digest, size: size)
        return OpenBlob(digest: digest, descriptor: descriptor, size: size)
    }

    /// The blob's size if the store has it, without opening it or changing its recency.
    public func size(of digest: Digest) -> UInt64? {
        if let size = state.withLock({ $0.index.lookup(digest) }) { return size }
        var info = stat()
        let found = StoreLayout.withPath(of: digest) { path in
            fstatat(root.rawValue, path, &info, AT_SYMLINK_NOFOLLOW) == 0
        }
        guard found else { return nil }
        let size = UInt64(info.st_size)
        adopt(digest, size: size)
        return size
    }

    /// The blob's size if the index has it, marking it recently used. Only memory is touched (no
    /// system call), so an event loop may call it: a blob that is on disk but not yet indexed
    /// (found by a later `open` or `size(of:)`) reads as absent.
    public func touchIndexed(_ digest: Digest) -> UInt64? {
        state.withLock { $0.index.touch(digest) }
    }

    /// Whether the index has `digest`, without changing its recency or touching the disk.
    public func isIndexed(_ digest: Digest) -> Bool {
        state.withLock { $0.index.lookup(digest) != nil }
    }

    /// Whether the store has `digest`.
    public func contains(_ digest: Digest) -> Bool { size(of: digest) != nil }

    /// Up to `limit` digests in ascending order, strictly after `after` (nil: from the start),
    /// optionally of one algorithm. Costs O(blobs × log limit) time and O(limit) memory.
    public func list(after: Digest? = nil, limit: Int, algorithm: DigestAlgorithm? = nil) -> [Digest] {
        state.withLock { $0.index.smallestDigests(after: after, limit: limit, algorithm: algorithm) }
    }

    /// How far apart, in page-cache budgets' worth of bytes served, two requests of a blob may
    /// be for it to count as hot: its pages then go only after those of blobs read once, or
    /// read again only after much longer (a scan of a store many times the budget).
    static let hotReuseBudgets: UInt64 = 64

    /// Records that a response with `digest`'s bytes starts, which makes the blob hot when its
    /// previous request was recent enough (see `hotReuseBudgets`). Call once per response.
    public func noteRequested(_ digest: Digest) {
        let window = options.resolvedPageCacheBudget / IndexEntry.pageSize * Self.hotReuseBudgets
        state.withLock { $0.index.noteRequested(digest, hotWithinPages: window) }
    }

    /// Counts bytes served from `digest` toward its estimated resident page cache; the
    /// maintenance thread drops the coldest blobs' pages once the estimate passes the budget,
    /// the hot blobs' last.
    public func noteServed(_ digest: Digest, bytes: UInt64) {
        let over = state.withLock { state in
            state.index.noteResident(digest, bytes: bytes)
            return state.index.residentBytes > options.resolvedPageCacheBudget
        }
        if over { sleeper.wake() }
    }

    // MARK: Writing and removing

    /// A writer for a new blob. With `expected`, commit fails unless the bytes hash to it;
    /// with `expectedSize`, room is made before the first byte and the size is checked.
    /// Throws `insufficientStorage` when `expectedSize` cannot fit even after eviction.
    public func makeWriter(
        expected: Digest? = nil, algorithm: DigestAlgorithm = .sha256, expectedSize: UInt64? = nil
    ) throws(BlobStoreError) -> BlobWriter {
        if let expectedSize, expectedSize > 0 {
            let decision = refreshCapacity(incoming: expectedSize)
            if !decision.fits { throw .insufficientStorage(needed: expectedSize) }
        }
        return try BlobWriter(store: self, expected: expected, algorithm: expected?.algorithm ?? algorithm, expectedSize: expectedSize)
    }

    /// Stores `bytes` (small blobs, tests). Durable when it returns.
    @discardableResult
    public func put(_ bytes: some Sequence<UInt8>, expected: Digest? = nil) throws(BlobStoreError) -> Digest {
        let array = Array(bytes)
        let writer = try makeWriter(expected: expected, expectedSize: UInt64(array.count))
        let written = array.withUnsafeBytes { buffer in
            Result { () throws(BlobStoreError) in try writer.write(buffer) }
        }
        try written.get()
        return try writer.commit()
    }

    /// Removes `digest`. Returns whether it was there. Readers holding it keep reading.
    /// Durable when it returns.
    @discardableResult
    public func remove(_ digest: Digest) throws(BlobStoreError) -> Bool {
        let result = StoreLayout.withPath(of: digest) { unlinkat(root.rawValue, $0, 0) }
        let code = result == 0 ? 0 : cbs_errno()
        if result != 0 && code != ENOENT {
            throw .system(SystemError(call: "unlinkat", path: StoreLayout.path(of: digest), errno: code))
        }
        let indexed = forget(digest)
        if result == 0 {
            do { try StoreLayout.syncDirectory(StoreLayout.fanOutDirectory(of: digest), in: root.rawValue) }
            catch { throw .system(error) }
        }
        return result == 0 || indexed
    }

    // MARK: Index bookkeeping shared by the writer, the reader and reconciliation

    /// Indexes a committed blob as most recently used, and unlinks what the entry cap evicts.
    func didCommit(_ digest: Digest, size: UInt64) {
        let victim: Digest? = state.withLock { state in
            let result = state.index.insert(digest, size: size, at: .hottest)
            if result.previousSize != size { state.log(.add, digest, size: size) }
            guard let victim = result.evicted else { return nil }
            state.log(.remove, victim.digest, size: 0)
            state.evictions += 1
            return victim.digest
        }
        if let victim { unlinkBlob(victim) }
        if state.withLock({ $0.usage > $0.effectiveCap }) { sleeper.wake() }
    }

    /// Indexes a blob found on disk but not in the index, at the cold end (its recency is unknown).
    func adopt(_ digest: Digest, size: UInt64) {
        let victim: Digest? = state.withLock { state in
            guard state.index.lookup(digest) == nil else { return nil }
            let result = state.index.insert(digest, size: size, at: .coldest)
            state.log(.add, digest, size: size)
            guard let victim = result.evicted else { return nil }
            state.log(.remove, victim.digest, size: 0)
            state.evictions += 1
            return victim.digest
        }
        if let victim { unlinkBlob(victim) }
    }

    /// Drops `digest` from the index (its file is gone). Returns whether it was indexed.
    @discardableResult
    func forget(_ digest: Digest) -> Bool {
        state.withLock { state in
            guard state.index.remove(digest) != nil else { return false }
            state.log(.remove, digest, size: 0)
            return true
        }
    }

    /// Unlinks a blob file the index no longer holds. Errors are ignored: reconciliation
    /// adopts a survivor again, and the index already let it go.
    func unlinkBlob(_ digest: Digest) {
        _ = StoreLayout.withPath(of: digest) { unlinkat(root.rawValue, $0, 0) }
    }

    /// Adds or removes bytes in flight (writers not yet committed).
    func adjustPending(by delta: Int64) {
        state.withLock { state in
            state.pendingBytes = delta >= 0 ? state.pendingBytes + UInt64(delta) : state.pendingBytes - UInt64(-delta)
        }
    }

    /// A fresh name for a named temporary: `<pid>.<counter>.partial`, so reconciliation can tell
    /// this process's temporaries from a dead one's.
    func nextTemporaryName() -> String {
        let counter = temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(StoreLayout.temporaries)/\(getpid()).\(counter).partial"
    }

    // MARK: Stats and lifetime

    /// Current figures; cheap (one lock, no I/O).
    public func stats() -> StoreStats {
        state.withLock { state in
            StoreStats(
                bytes: state.index.totalBytes, blobs: state.index.count,
                effectiveCap: state.effectiveCap, evictions: state.evictions,
                indexBytes: UInt64(state.index.bytesPerEntry * state.index.capacity),
                indexCapacity: state.index.capacity,
                residentBytesEstimate: state.index.residentBytes,
                pageCacheBudget: options.resolvedPageCacheBudget,
                quarantined: state.quarantined, pendingBytes: state.pendingBytes,
                reconciled: state.reconciled)
        }
    }

    /// Stops the maintenance thread, writes a snapshot (so the next open is fast and keeps the
    /// LRU order) and releases the directory. Call after every writer has finished; the store
    /// must not be used afterwards. A store dropped without `close` loses nothing: the next
    /// open replays the journal.
    public func close() throws(BlobStoreError) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        sleeper.stop()
        if let thread = maintenance.withLock({ $0 }), !thread.isCurrent { thread.join() }
        defer { flock(lockFile.rawValue, LOCK_UN) }
        do {
            try writeSnapshot()
            try state.withLock { state throws(SystemError) in try state.journal.sync() }
        } catch {
            throw .system(error)
        }
    }

    /// Folds the journal into a new snapshot. Holds the lock while it walks the index.
    func writeSnapshot() throws(SystemError) {
        try state.withLock { state throws(SystemError) in
            let next = state.generation + 1
            try IndexSnapshot.write(state.index, generation: next, root: root.rawValue)
            state.journal = try IndexJournal.create(generation: next, root: root.rawValue)
            state.generation = next
            state.journalDamaged = false
        }
    }

    private func startMaintenance() {
        let sleeper = self.sleeper
        let reference = WeakStoreReference(self)
        let thread = SystemThread(name: "blobstore-maint") {
            BlobStore.runMaintenance(of: reference, sleeper: sleeper)
        }
        maintenance.withLock { $0 = thread }
    }
}
