import CBlobSys
import Glibc

/// Streams one blob into the store, hashing every byte on the way, and makes it visible only
/// when `commit` has verified and fsynced it.
///
/// Bytes go to an unnamed temporary file in the data directory (O_TMPFILE), or a named one in
/// `tmp/` where the filesystem lacks O_TMPFILE. Nothing is buffered in memory beyond the
/// caller's buffer. A writer that is abandoned, fails, or dies with its process leaves
/// nothing visible; an unnamed temporary leaves nothing at all.
///
/// Owned by one thread at a time; not for concurrent use. Dropping an unfinished writer
/// abandons it.
public final class BlobWriter {
    private let store: BlobStore
    private let expected: Digest?
    private let expectedSize: UInt64?
    private let hasher: StreamingHasher
    private let file: FileDescriptor
    /// Relative path of the named temporary; nil for O_TMPFILE.
    private let temporaryName: String?
    private var finished = false
    /// Bytes written so far.
    public private(set) var bytesWritten: UInt64 = 0
    /// Bytes before this are on disk and out of the page cache.
    private var settledBytes: UInt64 = 0
    /// Bytes before this have had writeback started.
    private var issuedBytes: UInt64 = 0
    /// Bytes written since room was last made against the size cap.
    private var unreservedBytes: UInt64 = 0

    /// Streams with unknown size re-check the size cap every this many bytes.
    static let capacityCheckBytes: UInt64 = 64 << 20

    init(store: BlobStore, expected: Digest?, algorithm: DigestAlgorithm, expectedSize: UInt64?) throws(BlobStoreError) {
        self.store = store
        self.expected = expected
        self.expectedSize = expectedSize
        self.hasher = StreamingHasher(algorithm)
        let root = store.root.rawValue
        var named: String? = nil
        var raw: Int32 = -1
        if !store.options.forceNamedTemporaries {
            raw = cbs_open_tmpfile(root, StoreLayout.temporaries, 0o644)
            if raw < 0 {
                let code = cbs_errno()
                if code != EOPNOTSUPP && code != EISDIR && code != EINVAL {
                    throw .system(SystemError(call: "open(O_TMPFILE)", path: StoreLayout.temporaries, errno: code))
                }
            }
        }
        if raw < 0 {
            let name = store.nextTemporaryName()
            do {
                raw = try FileDescriptor.open(name, in: root, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o644).take()
            } catch {
                throw .system(error)
            }
            named = name
        }
        self.file = FileDescriptor(owning: raw)
        self.temporaryName = named
    }

    deinit {
        if !finished { abandon() }
    }

    /// The temporary file's descriptor, for readers that follow a blob as it grows (bytes
    /// before `bytesWritten` are readable, not yet verified). Borrowed: valid while the writer lives.
    public var descriptor: Int32 { file.rawValue }

    /// Appends `bytes`. On ENOSPC it evicts cold blobs and retries once, then throws
    /// `insufficientStorage` (and the writer is abandoned). Any other failure also abandons.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(BlobStoreError) {
        guard !finished else { throw .writerFinished }
        guard !bytes.isEmpty else { return }
        if let expectedSize, bytesWritten + UInt64(bytes.count) > expectedSize {
            abandon()
            throw .sizeMismatch(expected: expectedSize, actual: bytesWritten + UInt64(bytes.count))
        }
        hasher.update(bytes)
        try withSpaceRetry(needed: UInt64(bytes.count)) { () throws(SystemError) in
            // pwrite at explicit offsets: a retry after ENOSPC rewrites the same bytes in the
            // same place, and nothing is hashed twice.
            var done = 0
            while done < bytes.count {
                let fd = file.rawValue
                let offset = bytesWritten
                done += try syscall("pwrite", path: temporaryPath) {
                    pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                }
            }
        }
        bytesWritten += UInt64(bytes.count)
        store.adjustPending(by: Int64(bytes.count))
        unreservedBytes += UInt64(bytes.count)
        if expectedSize == nil, unreservedBytes >= Self.capacityCheckBytes {
            unreservedBytes = 0
            if !store.refreshCapacity(incoming: Self.capacityCheckBytes).fits {
                abandon()
                throw .insufficientStorage(needed: Self.capacityCheckBytes)
            }
        }
        pipelineWriteback()
    }

    /// Makes room for `count` more bytes before they come, as a writer of known size does before
    /// its first byte: evicts what the size cap asks. When they cannot fit even in an emptied
    /// store, it evicts nothing, abandons the writer and throws `insufficientStorage`. For
    /// streams that learn their length piece by piece (an upload session's declared chunk).
    public func makeRoom(for count: UInt64) throws(BlobStoreError) {
        guard !finished else { throw .writerFinished }
        guard count > 0, !store.refreshCapacity(incoming: count).fits else { return }
        abandon()
        throw .insufficientStorage(needed: count)
    }

    /// Verifies the digest (and size, when expected), fsyncs the file, links it under its
    /// digest and fsyncs the directory. When this returns the blob is durable and visible.
    /// If another writer committed the same digest first, this one succeeds too and one file
    /// remains. On a mismatch nothing becomes visible.
    ///
    /// `expecting` is for writers that learn the digest only at the end (chunked uploads): it
    /// replaces the digest given at creation, and must use the writer's algorithm.
    /// `whenVerified` runs once the digest and size have matched, before the fsync: readers
    /// that follow the file may trust its bytes from then on, though they are not durable yet.
    @discardableResult
    public func commit(expecting late: Digest? = nil, whenVerified: (() -> Void)? = nil) throws(BlobStoreError) -> Digest {
        guard !finished else { throw .writerFinished }
        let digest = hasher.finish()
        let expected = late ?? self.expected
        if let expectedSize, bytesWritten != expectedSize {
            abandon()
            throw .sizeMismatch(expected: expectedSize, actual: bytesWritten)
        }
        if let expected, expected != digest {
            abandon()
            throw .digestMismatch(expected: expected, actual: digest)
        }
        whenVerified?()
        try withSpaceRetry(needed: 0) { () throws(SystemError) in
            try file.sync(path: temporaryPath)
            try link(as: digest)
        }
        finished = true
        file.dropCachedPages()
        store.adjustPending(by: -Int64(bytesWritten))
        store.didCommit(digest, size: bytesWritten)
        return digest
    }

    /// Gives up: nothing becomes visible and the temporary is removed. Safe to call twice.
    public func abandon() {
        guard !finished else { return }
        finished = true
        if let temporaryName { unlinkat(store.root.rawValue, temporaryName, 0) }
        file.dropCachedPages()
        store.adjustPending(by: -Int64(bytesWritten))
    }

    private var temporaryPath: String { temporaryName ?? "\(StoreLayout.temporaries)/(O_TMPFILE)" }

    /// Links the verified file under `blobs/<algorithm>/<xx>/<hex>` and fsyncs that directory.
    /// An existing file of the same digest is the same content: that counts as success.
    private func link(as digest: Digest) throws(SystemError) {
        let root = store.root.rawValue
        let fanOut = StoreLayout.fanOutDirectory(of: digest)
        let target = StoreLayout.path(of: digest)
        for attempt in 0..<2 {
            let result: Int32
            if let temporaryName {
                result = cbs_rename_noreplace(root, temporaryName, root, target)
            } else {
                result = cbs_link_descriptor(file.rawValue, root, target)
            }
            if result == 0 { break }
            let code = cbs_errno()
            if code == EEXIST {
                if let temporaryName { unlinkat(root, temporaryName, 0) }
                break
            }
            if code == ENOENT && attempt == 0 {
                // First blob in this fan-out directory: make it, durably.
                try StoreLayout.makeDirectory(fanOut, in: root)
                try StoreLayout.syncDirectory("\(StoreLayout.blobs)/\(digest.algorithm)", in: root)
                continue
            }
            throw SystemError(call: temporaryName == nil ? "linkat" : "renameat2", path: target, errno: code)
        }
        try StoreLayout.syncDirectory(fanOut, in: root)
    }

    /// Runs `body`; on ENOSPC evicts and runs it once more; a second ENOSPC abandons the
    /// writer and throws `insufficientStorage`. Other errors abandon and rethrow.
    private func withSpaceRetry(needed: UInt64, _ body: () throws(SystemError) -> Void) throws(BlobStoreError) {
        do {
            try body()
            return
        } catch where error.isOutOfSpace {
            guard store.evictAfterOutOfSpace(needed: max(needed, expectedSize.map { $0 - min($0, bytesWritten) } ?? 0)) else {
                abandon()
                throw .insufficientStorage(needed: needed)
            }
        } catch {
            abandon()
            throw .system(error)
        }
        do {
            try body()
        } catch where error.isOutOfSpace {
            abandon()
            throw .insufficientStorage(needed: needed)
        } catch {
            abandon()
            throw .system(error)
        }
    }

    /// Every `writebackChunkBytes`: start writeback of the new chunk, then wait for the chunk
    /// issued the round before and drop its pages. The disk writes one chunk while the next is
    /// hashed, the final fsync has little left to do, and the page cache holds about two chunks.
    private func pipelineWriteback() {
        let chunk = store.options.writebackChunkBytes
        guard chunk > 0, bytesWritten - issuedBytes >= chunk else { return }
        let fd = file.rawValue
        _ = cbs_start_writeback(fd, off_t(issuedBytes), off_t(bytesWritten - issuedBytes))
        if issuedBytes > settledBytes {
            _ = cbs_wait_writeback(fd, off_t(settledBytes), off_t(issuedBytes - settledBytes))
            file.dropCachedPages(offset: settledBytes, length: issuedBytes - settledBytes)
            settledBytes = issuedBytes
        }
        issuedBytes = bytesWritten
    }
}
