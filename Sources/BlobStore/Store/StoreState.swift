/// Everything the store's lock protects.
///
/// Owned by `BlobStore.state` (a Mutex); never touched outside `withLock`. The index and
/// journal change together, so a journal record never disagrees with the index it follows.
final class StoreState {
    let index: BlobIndex
    var journal: IndexJournal
    /// Generation of the snapshot the journal follows.
    var generation: UInt64
    var effectiveCap: UInt64 = .max
    var evictions: UInt64 = 0
    var quarantined: UInt64 = 0
    /// Bytes written by open writers, counted against the cap before they commit.
    var pendingBytes: UInt64 = 0
    var reconciled = false
    /// Set when a journal write failed: the next maintenance round writes a snapshot.
    var journalDamaged = false

    init(index: BlobIndex, journal: IndexJournal, generation: UInt64) {
        self.index = index
        self.journal = journal
        self.generation = generation
    }

    /// Records a change in the journal. A failed journal write never fails the operation
    /// (the blob files are the truth); it only schedules a fresh snapshot.
    func log(_ operation: IndexJournal.Operation, _ digest: Digest, size: UInt64) {
        do {
            try journal.append(operation, IndexRecord(digest: digest, size: size))
        } catch {
            journalDamaged = true
        }
    }

    /// Usage counted against the cap: committed bytes plus bytes in flight.
    var usage: UInt64 { index.totalBytes + pendingBytes }
}
