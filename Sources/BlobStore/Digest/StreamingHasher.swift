import COpenSSL

/// Computes a digest over bytes fed in pieces, through OpenSSL's EVP interface (which uses
/// SHA-NI or AVX2 where the CPU has them).
///
/// Owned by one thread at a time; not for concurrent use. The OpenSSL context is freed when
/// the hasher is.
public final class StreamingHasher {
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer
    /// Bytes fed so far.
    public private(set) var count: UInt64 = 0

    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        reset()
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Starts over, as if new.
    public func reset() {
        let md = switch algorithm {
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
        guard EVP_DigestInit_ex(context, md, nil) == 1 else { fatalError("EVP_DigestInit_ex failed") }
        count = 0
    }

    /// Feeds `bytes` into the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("EVP_DigestUpdate failed")
        }
        count += UInt64(bytes.count)
    }

    /// Feeds a byte collection (tests and small inputs).
    public func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The digest of everything fed since the last reset. The hasher must be reset before reuse.
    public func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &out, &length) == 1, Int(length) == algorithm.byteCount else {
            fatalError("EVP_DigestFinal_ex failed")
        }
        return Digest(algorithm: algorithm, bytes: out.prefix(Int(length)))
    }

    /// The digest of `bytes` in one call.
    public static func digest(of bytes: some Sequence<UInt8>, using algorithm: DigestAlgorithm = .sha256) -> Digest {
        let hasher = StreamingHasher(algorithm)
        hasher.update(bytes)
        return hasher.finish()
    }
}
