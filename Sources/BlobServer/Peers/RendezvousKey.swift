import BlobStore

/// What peers are ranked for: a blob digest, or a string such as `ns/name:tag` when a tag is
/// revalidated. Holds only the key's 64-bit hash, so ranking one key costs no allocation.
public struct RendezvousKey: Hashable, Sendable {
    /// `RendezvousHash.hash` of the key's bytes; the same on every machine.
    public let hash: UInt64

    /// The key of a blob: its raw hash bytes (the length tells the algorithms apart).
    public init(digest: Digest) {
        hash = digest.withUnsafeBytes { RendezvousHash.hash($0, domain: .digestKey) }
    }

    /// The key of a name, hashed as UTF-8.
    public init(_ text: some StringProtocol) {
        hash = text.utf8.withContiguousStorageIfAvailable {
            RendezvousHash.hash(UnsafeRawBufferPointer($0), domain: .stringKey)
        } ?? {
            var copy = String(text)
            return copy.withUTF8 { RendezvousHash.hash(UnsafeRawBufferPointer($0), domain: .stringKey) }
        }()
    }
}
