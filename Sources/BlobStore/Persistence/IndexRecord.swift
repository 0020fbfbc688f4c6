/// The on-disk form of one index entry, shared by the snapshot and the journal:
/// `algorithm: UInt8, size: UInt64 little-endian, hash bytes (32 or 64)`.
struct IndexRecord: Equatable {
    var digest: Digest
    var size: UInt64

    /// Bytes the record takes for `algorithm`.
    static func encodedCount(_ algorithm: DigestAlgorithm) -> Int { 1 + 8 + algorithm.byteCount }
    /// The longest record (sha512).
    static let maxEncodedCount = 1 + 8 + 64

    /// Appends the record's bytes to `out` at `offset`; returns the new offset.
    func encode(into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var at = offset
        out[at] = digest.algorithm.rawValue
        at += 1
        out.storeBytes(of: size.littleEndian, toByteOffset: at, as: UInt64.self)
        at += 8
        digest.withUnsafeBytes { hash in
            UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + hash.count)]).copyMemory(from: hash)
        }
        return at + digest.algorithm.byteCount
    }

    /// Decodes a record at the start of `bytes`. Returns nil when the algorithm byte is
    /// unknown or `bytes` is too short (a torn tail); otherwise the record and its length.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> (record: IndexRecord, count: Int)? {
        guard let first = bytes.first, let algorithm = DigestAlgorithm(rawValue: first) else { return nil }
        let count = encodedCount(algorithm)
        guard bytes.count >= count else { return nil }
        let size = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt64.self))
        let digest = Digest(algorithm: algorithm, bytes: UnsafeRawBufferPointer(rebasing: bytes[9..<count]))
        return (IndexRecord(digest: digest, size: size), count)
    }
}

/// FNV-1a, 32 bits: a cheap check that a journal record was written whole.
func fnv1a32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var hash: UInt32 = 0x811c_9dc5
    for byte in bytes {
        hash ^= UInt32(byte)
        hash = hash &* 0x0100_0193
    }
    return hash
}
