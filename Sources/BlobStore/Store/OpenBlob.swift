/// A blob opened for reading: its descriptor and size.
///
/// The holder owns the descriptor and closes it by dropping this value. The bytes stay
/// readable to the end while it is held, even if the blob is removed or evicted meanwhile
/// (the file is unlinked, the inode lives until the last descriptor closes).
public struct OpenBlob: ~Copyable, Sendable {
    public let digest: Digest
    /// Open read-only, ready for `sendfile` or `pread`.
    public let descriptor: FileDescriptor
    public let size: UInt64

    init(digest: Digest, descriptor: consuming FileDescriptor, size: UInt64) {
        self.digest = digest
        self.descriptor = descriptor
        self.size = size
    }

    /// Ends the value, handing its descriptor to the caller, who must close it.
    public consuming func takeDescriptor() -> Int32 {
        descriptor.take()
    }
}
