import CBlobSys
import Glibc

/// The changes made to the index since the last snapshot, appended one record a change.
///
/// Format: `"BCJRNL01"`, generation (UInt64 LE), then records: operation (1 = add,
/// 2 = remove), `IndexRecord`, FNV-1a of the record. Replaying stops at the first record
/// that is torn or fails its check; the file is cut there before new records are appended.
///
/// Records are written with one `pwrite` each and not fsynced: the blob files are the
/// truth, and the journal only saves reconciliation work. A record lost to a power cut
/// costs a lookup on the filesystem, never a blob.
///
/// Not thread-safe: the store calls it under its lock.
final class IndexJournal {
    enum Operation: UInt8 {
        case add = 1
        case remove = 2
    }

    static let magic: StaticString = "BCJRNL01"
    static let headerCount = 16

    private let file: FileDescriptor
    private var end: UInt64
    /// Records appended or replayed since the snapshot.
    private(set) var recordCount: Int

    private init(file: consuming FileDescriptor, end: UInt64, recordCount: Int) {
        self.file = file
        self.end = end
        self.recordCount = recordCount
    }

    /// Starts an empty journal of `generation`, replacing any old one atomically.
    static func create(generation: UInt64, root: Int32) throws(SystemError) -> IndexJournal {
        let file = try FileDescriptor.open(
            StoreLayout.journalTemporary, in: root, flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o644)
        var header = [UInt8](repeating: 0, count: headerCount)
        magic.withUTF8Buffer { for (index, byte) in $0.enumerated() { header[index] = byte } }
        withUnsafeBytes(of: generation.littleEndian) { for (index, byte) in $0.enumerated() { header[8 + index] = byte } }
        let wroteHeader = header.withUnsafeBytes { bytes in
            Result { () throws(SystemError) in try file.writeAll(bytes, at: 0, path: StoreLayout.journalTemporary) }
        }
        try wroteHeader.get()
        try file.sync(path: StoreLayout.journalTemporary)
        try syscall("renameat", path: StoreLayout.journal) {
            renameat(root, StoreLayout.journalTemporary, root, StoreLayout.journal)
        }
        try StoreLayout.syncDirectory(StoreLayout.index, in: root)
        return IndexJournal(file: file, end: UInt64(headerCount), recordCount: 0)
    }

    /// Opens the journal of `generation` and replays it through `apply`. Returns nil when
    /// there is no journal or it belongs to another generation (its changes are already in
    /// the snapshot, or it is garbage): the caller then starts a new one.
    static func replay(
        generation: UInt64, root: Int32, apply: (Operation, IndexRecord) -> Void
    ) throws(SystemError) -> IndexJournal? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(StoreLayout.journal, in: root, flags: O_RDWR)
        } catch where error.errno == ENOENT {
            return nil
        }
        var reader = SequentialFileReader(descriptor: file.rawValue, path: StoreLayout.journal)
        let header = try reader.peek(minimum: headerCount)
        guard header.count >= headerCount,
              magic.withUTF8Buffer({ header.prefix(8).elementsEqual($0) }),
              UInt64(littleEndian: header.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) == generation
        else { return nil }
        reader.consume(headerCount)
        var records = 0
        while true {
            let window = try reader.peek(minimum: 1 + IndexRecord.maxEncodedCount + 4)
            guard let operationByte = window.first, let operation = Operation(rawValue: operationByte),
                  let (record, count) = IndexRecord.decode(UnsafeRawBufferPointer(rebasing: window.dropFirst())),
                  window.count >= 1 + count + 4
            else { break }
            let checked = UnsafeRawBufferPointer(rebasing: window[..<(1 + count)])
            let check = UInt32(littleEndian: window.loadUnaligned(fromByteOffset: 1 + count, as: UInt32.self))
            guard fnv1a32(checked) == check else { break }
            apply(operation, record)
            reader.consume(1 + count + 4)
            records += 1
        }
        let validEnd = reader.consumed
        let fd = file.rawValue
        try syscall("ftruncate", path: StoreLayout.journal) { ftruncate(fd, off_t(validEnd)) }
        return IndexJournal(file: file, end: validEnd, recordCount: records)
    }

    /// Appends one record. Visible to a replay after a process crash once this returns.
    func append(_ operation: Operation, _ record: IndexRecord) throws(SystemError) {
        try withUnsafeTemporaryAllocation(byteCount: 1 + IndexRecord.maxEncodedCount + 4, alignment: 8) {
            buffer throws(SystemError) in
            buffer[0] = operation.rawValue
            let count = record.encode(into: buffer, at: 1)
            let check = fnv1a32(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            buffer.storeBytes(of: check.littleEndian, toByteOffset: count, as: UInt32.self)
            try file.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<(count + 4)]), at: end, path: StoreLayout.journal)
            end += UInt64(count + 4)
        }
        recordCount += 1
    }

    /// fsyncs the journal (at close, so a clean shutdown loses nothing even to a power cut).
    func sync() throws(SystemError) {
        try file.sync(path: StoreLayout.journal)
    }
}
