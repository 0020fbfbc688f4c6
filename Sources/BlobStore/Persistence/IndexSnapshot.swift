import CBlobSys
import Glibc

/// The index written whole, coldest blob first, so that loading it restores the LRU order.
///
/// Format: `"BCSNAP01"`, generation (UInt64 LE), entry count (UInt64 LE), the records
/// (`IndexRecord`), then the SHA-256 of everything before it. Written to a temporary, fsynced
/// and renamed over the old snapshot, so a reader sees the old one or the new one whole.
/// The journal that follows it carries the same generation.
enum IndexSnapshot {
    static let magic: StaticString = "BCSNAP01"
    static let headerCount = 24
    static let trailerCount = 32

    /// Writes the snapshot of `index` with `generation`. Durable when it returns.
    /// Walks the index in place: the caller holds the index's lock throughout.
    static func write(_ index: BlobIndex, generation: UInt64, root: Int32) throws(SystemError) {
        let file = try FileDescriptor.open(
            StoreLayout.snapshotTemporary, in: root, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        let path = StoreLayout.snapshotTemporary
        let hasher = StreamingHasher(.sha256)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var used = 0
        func flush() throws(SystemError) {
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<used])
            hasher.update(chunk)
            try file.writeAll(chunk, path: path)
            used = 0
        }
        magic.withUTF8Buffer { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<8]).copyMemory(from: UnsafeRawBufferPointer($0)) }
        buffer.storeBytes(of: generation.littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: UInt64(index.count).littleEndian, toByteOffset: 16, as: UInt64.self)
        used = headerCount
        var failure: SystemError?
        index.forEachColdestFirst { digest, size in
            guard failure == nil else { return }
            if used + IndexRecord.maxEncodedCount > buffer.count {
                do throws(SystemError) { try flush() } catch { failure = error; return }
            }
            used = IndexRecord(digest: digest, size: size).encode(into: buffer, at: used)
        }
        if let failure { throw failure }
        try flush()
        let trailer = hasher.finish().bytes
        let wroteTrailer = trailer.withUnsafeBytes { bytes in
            Result { () throws(SystemError) in try file.writeAll(bytes, path: path) }
        }
        try wroteTrailer.get()
        try file.sync(path: path)
        try syscall("renameat", path: StoreLayout.snapshot) {
            renameat(root, StoreLayout.snapshotTemporary, root, StoreLayout.snapshot)
        }
        try StoreLayout.syncDirectory(StoreLayout.index, in: root)
    }

    /// Loads the snapshot into `index` (which must be empty) and returns its generation, or
    /// nil when there is none. For a snapshot whose checksum or shape is wrong it returns nil
    /// after loading part of it: the caller discards that index, and reconciliation rebuilds
    /// from the directory, which is the truth.
    /// `evicted` receives entries pushed out because the index's cap is now smaller.
    static func load(
        into index: BlobIndex, root: Int32, evicted: (Digest) -> Void
    ) throws(SystemError) -> UInt64? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(StoreLayout.snapshot, in: root, flags: O_RDONLY)
        } catch where error.errno == ENOENT {
            return nil
        }
        let fileSize = try file.size(path: StoreLayout.snapshot)
        guard fileSize >= UInt64(headerCount + trailerCount) else { return nil }
        let bodyEnd = fileSize - UInt64(trailerCount)
        var reader = SequentialFileReader(descriptor: file.rawValue, path: StoreLayout.snapshot)
        let hasher = StreamingHasher(.sha256)

        let header = try reader.peek(minimum: headerCount)
        guard header.count >= headerCount,
              magic.withUTF8Buffer({ header.prefix(8).elementsEqual($0) }) else { return nil }
        let generation = UInt64(littleEndian: header.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let expectedCount = UInt64(littleEndian: header.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        hasher.update(UnsafeRawBufferPointer(rebasing: header[..<headerCount]))
        reader.consume(headerCount)

        var loaded: UInt64 = 0
        var intact = true
        while reader.consumed < bodyEnd {
            let window = try reader.peek(minimum: IndexRecord.maxEncodedCount)
            let remaining = Int(bodyEnd - reader.consumed)
            guard let (record, count) = IndexRecord.decode(UnsafeRawBufferPointer(rebasing: window.prefix(remaining))) else {
                intact = false
                break
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: window[..<count]))
            reader.consume(count)
            if let victim = index.insert(record.digest, size: record.size, at: .hottest).evicted {
                evicted(victim.digest)
            }
            loaded += 1
        }
        if intact {
            let trailer = try reader.peek(minimum: trailerCount)
            intact = trailer.count == trailerCount && loaded == expectedCount
                && hasher.finish().withUnsafeBytes { $0.elementsEqual(trailer) }
        }
        return intact ? generation : nil
    }
}
