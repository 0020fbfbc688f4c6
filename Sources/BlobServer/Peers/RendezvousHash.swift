/// The 64-bit hash behind rendezvous ranking. Every node of a cluster must compute the same
/// ranking, so this is a fixed function of the bytes: no per-process seed (unlike `Hasher`),
/// and words are read little-endian on every machine.
///
/// Why it is good enough: each 8-byte word is folded in by xor and then the SplitMix64
/// finalizer (Stafford's "Mix13"), a bijection in which every input bit flips each output bit
/// with probability close to 1/2. Rendezvous hashing only needs weights that look independent
/// and uniform for distinct (node, key) pairs, which the balance and disruption tests measure.
/// It is not collision-resistant and needs not be: the ranking is public by design (every
/// peer computes it), so nothing is gained by hiding it from a client.
public enum RendezvousHash {
    /// Seeds that keep the kinds of input apart: a node and a key with equal bytes hash apart.
    public enum Domain: UInt64, Sendable {
        case node = 0x6e6f_6465_5f72_6877
        case digestKey = 0x6469_6765_7374_6b79
        case stringKey = 0x7374_7269_6e67_6b79
    }

    /// Hashes `bytes` in `domain`. The length is folded in first, so a prefix that ends in
    /// zero bytes does not hash like the shorter input.
    public static func hash(_ bytes: UnsafeRawBufferPointer, domain: Domain) -> UInt64 {
        var state = mix(domain.rawValue ^ (UInt64(bytes.count) &* 0x9e37_79b9_7f4a_7c15))
        var offset = 0
        while offset + 8 <= bytes.count {
            state = mix(state ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        if offset < bytes.count {
            var tail: UInt64 = 0
            for (shift, byte) in bytes[offset...].enumerated() { tail |= UInt64(byte) << (8 * UInt64(shift)) }
            state = mix(state ^ tail)
        }
        return state
    }

    /// The weight of a node (its `hash` in `.node`) for a key (its `hash`). The key is mixed
    /// again before it meets the node, and the finalizer's avalanche makes two nodes' weights
    /// for one key look independent. Always inlined: it is the whole cost of a ranking query.
    @inlinable @inline(__always)
    public static func weight(node: UInt64, key: UInt64) -> UInt64 {
        mix(node ^ mix(key &+ 0x9e37_79b9_7f4a_7c15))
    }

    /// The SplitMix64 finalizer: a bijection on 64 bits with full avalanche.
    @inlinable @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
