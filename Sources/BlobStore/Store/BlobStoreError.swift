/// Why a store operation failed.
public enum BlobStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes written hash to `actual`, not the `expected` digest. Nothing was stored.
    case digestMismatch(expected: Digest, actual: Digest)
    /// The writer was told to expect `expected` bytes and got `actual`. Nothing was stored.
    case sizeMismatch(expected: UInt64, actual: UInt64)
    /// The filesystem stayed full after evicting and retrying once (HTTP 507). Nothing was
    /// stored and existing blobs are untouched.
    case insufficientStorage(needed: UInt64)
    /// A system call failed.
    case system(SystemError)
    /// Another process holds the data directory's lock.
    case directoryLocked(path: String)
    /// The writer was already committed or abandoned.
    case writerFinished

    public var description: String {
        switch self {
        case .digestMismatch(let expected, let actual):
            "digest mismatch: expected \(expected), content hashes to \(actual)"
        case .sizeMismatch(let expected, let actual):
            "size mismatch: expected \(expected) bytes, got \(actual)"
        case .insufficientStorage(let needed):
            "insufficient storage: no room for \(needed) more bytes after eviction"
        case .system(let error): error.description
        case .directoryLocked(let path): "data directory \(path) is in use by another process"
        case .writerFinished: "blob writer already committed or abandoned"
        }
    }
}
