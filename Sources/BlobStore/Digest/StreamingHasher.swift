import COpenSSL

/// Computes a digest over bytes fed in pieces, through OpenSSL's EVP interface (which uses
/// SHA-NI or AVX2 where the CPU has them).
///
/// Owned by one thread at a time; not for concurrent use. The OpenSSL context is freed when
/// the hasher is. After `finish()`, only `reset()` may follow: OpenSSL would otherwise go
/// on hashing from the finished state and give a wrong digest, so that traps instead.
public final class StreamingHasher {
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer
    /// Bytes fed so far.
    public private(set) var count: UInt64 = 0
    /// Set by `finish()`, cleared by `reset()`.
    private var finished = false

    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        let md = switch algorithm {
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
        guard EVP_DigestInit_ex(context, md, nil) == 1 else { fatalError("EVP_DigestInit_ex failed") }
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Starts over, as if new.
    public func reset() {
        // nil reuses the digest the context fetched in init. Passing EVP_sha256() again
        // would repeat OpenSSL 3's implicit fetch, a locked lookup that triples the cost
        // of hashing a small input.
        guard EVP_DigestInit_ex(context, nil, nil) == 1 else { fatalError("EVP_DigestInit_ex failed") }
        count = 0
        finished = false
    }

    /// Feeds `bytes` into the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "StreamingHasher.update after finish() without reset()")
        guard !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("EVP_DigestUpdate failed")
        }
        count += UInt64(bytes.count)
    }

    /// Feeds a byte collection (tests and small inputs). Contiguous collections (arrays,
    /// native strings' UTF-8) are hashed in place; others are copied first.
    public func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// The digest of everything fed since the last reset. The hasher must be reset before reuse.
    /// Allocates nothing: OpenSSL writes straight into the digest's inline storage.
    public func finish() -> Digest {
        precondition(!finished, "StreamingHasher.finish called twice without reset()")
        finished = true
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var length: UInt32 = 0
        let status = withUnsafeMutableBytes(of: &words) { raw in
            // EVP_DigestFinal_ex may write up to EVP_MAX_MD_SIZE bytes.
            precondition(raw.count >= Int(EVP_MAX_MD_SIZE))
            return raw.withMemoryRebound(to: UInt8.self) { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        }
        guard status == 1, Int(length) == algorithm.byteCount else {
            fatalError("EVP_DigestFinal_ex failed")
        }
        return Digest(algorithm: algorithm, words: words)
    }

    /// The digest of `bytes` in one call.
    public static func digest(of bytes: some Sequence<UInt8>, using algorithm: DigestAlgorithm = .sha256) -> Digest {
        let hasher = StreamingHasher(algorithm)
        hasher.update(bytes)
        return hasher.finish()
    }
}
