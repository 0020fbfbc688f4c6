import Glibc

/// An open-addressing hash table from a digest's `mixingBits` to an entry slot number:
/// linear probing, backward-shift deletion (no tombstones, so probes stay short however
/// long the index churns).
///
/// Keying by `mixingBits` alone is safe because `BlobIndex` holds only blobs the store
/// verified (or found in its own directory), whose hashes a client cannot choose: their keys
/// are uniform, runs stay short, and a lookup of a digest a client merely names walks one
/// short run. Colliding keys stay correct, only slower.
///
/// Buckets hold `slot + 1`; 0 is empty. The table does not know the entries: callers pass
/// closures that compare a slot's digest or give back a slot's key. It never grows, and the
/// caller keeps it at most half full. Owned by one `BlobIndex`, which serializes access; the
/// buckets are freed when the table is destroyed.
struct DigestTable: ~Copyable {
    private let buckets: UnsafeMutablePointer<UInt32>
    private let mask: Int
    /// Shifts a 64-bit product down to a bucket number (Fibonacci hashing).
    private let shift: UInt64

    /// Number of buckets: a power of two, at least 2.
    let bucketCount: Int

    /// A table with the smallest power-of-two bucket count of at least `minimumBuckets`.
    /// The buckets come from calloc, so pages no key has touched cost no memory.
    init(minimumBuckets: Int) {
        precondition(minimumBuckets > 0 && minimumBuckets <= 1 << 40, "DigestTable: bad bucket count")
        let log2 = max(1, Int.bitWidth - (minimumBuckets - 1).leadingZeroBitCount)
        bucketCount = 1 << log2
        mask = bucketCount - 1
        shift = UInt64(UInt64.bitWidth - log2)
        guard let raw = calloc(bucketCount, MemoryLayout<UInt32>.stride) else {
            fatalError("DigestTable: calloc of \(bucketCount) buckets failed")
        }
        buckets = raw.bindMemory(to: UInt32.self, capacity: bucketCount)
    }

    deinit { free(buckets) }

    /// The bucket where probing for `key` starts. Real digests are uniform already; the
    /// multiply spreads hand-made ones (and any key whose low bits repeat) over the table.
    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The bucket and slot of the first slot filed under `key` for which `matches` is true.
    @inline(__always)
    func find(_ key: UInt64, where matches: (UInt32) -> Bool) -> (bucket: Int, slot: UInt32)? {
        var bucket = home(key)
        while true {
            let stored = buckets[bucket]
            if stored == 0 { return nil }
            if matches(stored &- 1) { return (bucket, stored &- 1) }
            bucket = (bucket &+ 1) & mask
        }
    }

    /// The bucket holding `slot`, which must be filed under `key`.
    @inline(__always)
    func bucket(ofSlot slot: UInt32, key: UInt64) -> Int {
        guard let found = find(key, where: { $0 == slot }) else {
            preconditionFailure("DigestTable: slot \(slot) is not in the table")
        }
        return found.bucket
    }

    /// Files `slot` under `key`. The slot must not be in the table already.
    @inline(__always)
    func insert(slot: UInt32, key: UInt64) {
        var bucket = home(key)
        while buckets[bucket] != 0 { bucket = (bucket &+ 1) & mask }
        buckets[bucket] = slot &+ 1
    }

    /// Empties `bucket` and shifts later members of its probe run back, so every remaining
    /// slot stays reachable from its home bucket. `keyOf` gives the key a slot is filed under.
    @inline(__always)
    func remove(atBucket bucket: Int, keyOf: (UInt32) -> UInt64) {
        var hole = bucket
        var next = (hole &+ 1) & mask
        while true {
            let stored = buckets[next]
            if stored == 0 { break }
            // A member may fill the hole unless its home lies after the hole (cyclically),
            // in which case moving it would put it before its home, out of its probe path.
            let distanceFromHome = (next &- home(keyOf(stored &- 1))) & mask
            let distanceFromHole = (next &- hole) & mask
            if distanceFromHome >= distanceFromHole {
                buckets[hole] = stored
                hole = next
            }
            next = (next &+ 1) & mask
        }
        buckets[hole] = 0
    }
}
