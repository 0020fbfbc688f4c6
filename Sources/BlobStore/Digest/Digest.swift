/// A content digest such as `sha256:e3b0…`: an algorithm and the raw hash bytes.
///
/// A value type with inline storage (no heap allocation), so parsing, hashing and comparing
/// digests on the request path costs no allocation. Only canonical digests exist: lowercase
/// hex of the exact length (OCI image-spec, "Digests").
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let algorithm: DigestAlgorithm
    /// The raw hash, big-endian words; words past the algorithm's length are zero.
    @usableFromInline
    internal var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    /// Builds a digest from raw hash bytes, which must be `algorithm.byteCount` long.
    public init(algorithm: DigestAlgorithm, bytes: some Collection<UInt8>) {
        precondition(bytes.count == algorithm.byteCount, "digest bytes have the wrong length")
        self.algorithm = algorithm
        self.words = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
    }

    /// Builds a digest from words already laid out as `words` is (hash bytes in memory
    /// order, zero past the algorithm's length).
    init(algorithm: DigestAlgorithm, words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)) {
        self.algorithm = algorithm
        self.words = words
    }

    /// Parses `algorithm:hex` from a string. Throws `DigestError` for anything non-canonical.
    public init(parsing text: some StringProtocol) throws(DigestError) {
        // Native strings and their substrings are contiguous UTF-8: parse in place, no copy.
        let parsed: Result<Digest, DigestError> = text.utf8.withContiguousStorageIfAvailable { buffer in
            Result { () throws(DigestError) in try Digest(parsing: UnsafeRawBufferPointer(buffer)) }
        } ?? {
            var copy = String(text)
            return copy.withUTF8 { buffer in
                Result { () throws(DigestError) in try Digest(parsing: UnsafeRawBufferPointer(buffer)) }
            }
        }()
        self = try parsed.get()
    }

    /// Parses `algorithm:hex` from ASCII bytes, without allocating.
    public init(parsing ascii: UnsafeRawBufferPointer) throws(DigestError) {
        guard let colon = ascii.firstIndex(of: UInt8(ascii: ":")) else { throw .missingSeparator }
        let name = UnsafeRawBufferPointer(rebasing: ascii[..<colon])
        guard let algorithm = DigestAlgorithm(ascii: name) else {
            throw .unsupportedAlgorithm(String(decoding: name.prefix(32), as: UTF8.self))
        }
        let hex = UnsafeRawBufferPointer(rebasing: ascii[(colon + 1)...])
        guard hex.count == algorithm.hexCount else {
            throw .wrongLength(algorithm: algorithm, expected: algorithm.hexCount, actual: hex.count)
        }
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        let bad: Int? = withUnsafeMutableBytes(of: &words) { raw in
            for index in 0..<algorithm.byteCount {
                guard let high = Digest.nibble(hex[2 * index]) else { return 2 * index }
                guard let low = Digest.nibble(hex[2 * index + 1]) else { return 2 * index + 1 }
                raw[index] = high << 4 | low
            }
            return nil
        }
        if let bad { throw .invalidHex(offset: bad) }
        self.algorithm = algorithm
        self.words = words
    }

    /// The raw hash bytes.
    public var bytes: [UInt8] {
        Swift.withUnsafeBytes(of: words) { Array($0.prefix(algorithm.byteCount)) }
    }

    /// Calls `body` with the raw hash bytes, without allocating.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(algorithm.byteCount))) }
    }

    /// Lowercase hex of the hash, without the algorithm.
    public var hex: String {
        String(unsafeUninitializedCapacity: algorithm.hexCount) { out in
            writeHex(into: UnsafeMutableRawBufferPointer(out))
        }
    }

    /// Writes the lowercase hex into `out`, which must hold `algorithm.hexCount` bytes.
    /// Returns the count written.
    @discardableResult
    public func writeHex(into out: UnsafeMutableRawBufferPointer) -> Int {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes { raw in
            digits.withUTF8Buffer { table in
                for (index, byte) in raw.enumerated() {
                    out[2 * index] = table[Int(byte >> 4)]
                    out[2 * index + 1] = table[Int(byte & 0x0f)]
                }
                return raw.count * 2
            }
        }
    }

    /// `algorithm:hex`, the canonical form.
    public var description: String { "\(algorithm):\(hex)" }

    public static func == (lhs: Digest, rhs: Digest) -> Bool {
        lhs.algorithm == rhs.algorithm
            && lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1
            && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
            && lhs.words.4 == rhs.words.4 && lhs.words.5 == rhs.words.5
            && lhs.words.6 == rhs.words.6 && lhs.words.7 == rhs.words.7
    }

    /// Hashes every word: a client chooses the digests it asks for, and digests that share
    /// a prefix must not all land in one bucket of a `Set` or `Dictionary`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(algorithm)
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
        if algorithm.byteCount > 32 {
            hasher.combine(words.4)
            hasher.combine(words.5)
            hasher.combine(words.6)
            hasher.combine(words.7)
        }
    }

    /// Orders by the canonical string: algorithm name, then hex (big-endian bytes).
    public static func < (lhs: Digest, rhs: Digest) -> Bool {
        if lhs.algorithm != rhs.algorithm { return lhs.algorithm.description < rhs.algorithm.description }
        return lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in left.lexicographicallyPrecedes(right) }
        }
    }

    private static func nibble(_ ascii: UInt8) -> UInt8? {
        switch ascii {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): ascii &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): ascii &- UInt8(ascii: "a") &+ 10
        default: nil
        }
    }
}

extension Digest {
    /// A 64-bit value taken from the hash bytes: uniformly distributed for real digests,
    /// so it serves directly as a hash-table key. A table that inserts digests a client
    /// merely names (not yet verified) should use `hash(into:)`: anyone can name many
    /// digests that share these bits.
    @inlinable
    public var mixingBits: UInt64 { words.0 }
}
