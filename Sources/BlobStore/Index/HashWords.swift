/// 32 bytes of a digest's hash as four words in memory order: a whole sha256, or one half of
/// a sha512. Comparing four words is how the index compares digests without building them.
struct HashWords: Equatable {
    var w0: UInt64
    var w1: UInt64
    var w2: UInt64
    var w3: UInt64

    /// All zero: the unused half of a sha256 digest's words.
    static let zero = HashWords(w0: 0, w1: 0, w2: 0, w3: 0)

    private init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }

    /// The first 32 hash bytes of `digest`. `w0` is `digest.mixingBits`, the hash-table key.
    @inline(__always)
    init(head digest: Digest) {
        self = digest.withUnsafeBytes { HashWords(raw: $0, offset: 0) }
        assert(w0 == digest.mixingBits, "HashWords: w0 must be the hash-table key")
    }

    /// The last 32 hash bytes of a sha512 `digest`.
    @inline(__always)
    init(tail digest: Digest) {
        precondition(digest.algorithm == .sha512, "only a sha512 digest has a tail")
        self = digest.withUnsafeBytes { HashWords(raw: $0, offset: 32) }
    }

    @inline(__always)
    private init(raw: UnsafeRawBufferPointer, offset: Int) {
        w0 = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        w1 = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)
        w2 = raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self)
        w3 = raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self)
    }
}

extension Digest {
    /// Rebuilds a digest from the words the index keeps; `tail` is required for sha512.
    /// `HashWords` are loaded in memory order, the layout `init(algorithm:words:)` takes, so
    /// no byte loop runs: the index rebuilds digests for every eviction, listing and snapshot.
    init(algorithm: DigestAlgorithm, head: HashWords, tail: HashWords?) {
        precondition((algorithm == .sha512) == (tail != nil), "a sha512 digest needs its tail, a sha256 has none")
        let tail = tail ?? .zero
        self.init(algorithm: algorithm, words: (head.w0, head.w1, head.w2, head.w3, tail.w0, tail.w1, tail.w2, tail.w3))
    }
}
