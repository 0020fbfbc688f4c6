/// How large the store may grow and how far to shrink it when it must: the dynamic size cap.
///
/// Works like kubelet's `--eviction-hard` with `--eviction-minimum-reclaim`. The cap is
/// recomputed from a fresh `FilesystemSpace` on every decision, so it follows other writers
/// on the same filesystem and a resized volume:
///
///     effectiveCap = min(maxSize, usage + available − minFree)
///
/// The store may grow only while the filesystem keeps `minFree` free; its own bytes count as
/// freeable. When a write would pass the cap, eviction goes `minReclaim` further down than
/// needed, so that the next writes do not each trigger another eviction pass.
///
/// A pure value: no I/O, no clock, safe to share between threads. The store reads the space,
/// calls `decide`, and performs the eviction the decision asks for.
public struct CapacityPolicy: Equatable, Sendable {
    /// The largest the store may grow, in bytes or as a share of the filesystem's total size.
    public var maxSize: SizeLimit
    /// What the filesystem must keep available to unprivileged writers; the store shrinks
    /// when others fill the disk.
    public var minFree: SizeLimit
    /// How far below the cap an eviction pass goes (hysteresis). Used as given up to a quarter
    /// of the resolved `maxSize`, and limited to that: a larger value would turn each pass
    /// into a flush of most of the cache. So the default 1 GiB applies in full from a 4 GiB
    /// cap up, and on a 2 GiB cap a pass reclaims 512 MiB.
    public var minReclaim: SizeLimit

    /// `maxSize` by default: 80% of the filesystem.
    public static let defaultMaxSize = SizeLimit.percent(80)
    /// `minFree` by default: 5% of the filesystem.
    public static let defaultMinFree = SizeLimit.percent(5)
    /// `minReclaim` by default: 1 GiB (limited to a quarter of the cap, see `minReclaim`).
    public static let defaultMinReclaim = SizeLimit.bytes(ByteSize.gibibyte)

    /// A policy; every limit has a default (see the `default…` constants).
    public init(
        maxSize: SizeLimit = CapacityPolicy.defaultMaxSize,
        minFree: SizeLimit = CapacityPolicy.defaultMinFree,
        minReclaim: SizeLimit = CapacityPolicy.defaultMinReclaim
    ) {
        self.maxSize = maxSize
        self.minFree = minFree
        self.minReclaim = minReclaim
    }

    /// Decides whether the store must evict before (or regardless of) a write.
    ///
    /// - Parameters:
    ///   - usage: the bytes the store holds now; they are part of the filesystem's used space.
    ///   - space: a fresh reading of the filesystem that holds the store.
    ///   - incoming: the expected size of a write about to start; 0 when unknown or none.
    public func decide(usage: UInt64, space: FilesystemSpace, incoming: UInt64 = 0) -> CapacityDecision {
        let total = space.totalBytes
        let maxBytes = maxSize.resolve(totalBytes: total)
        let minFreeBytes = minFree.resolve(totalBytes: total)
        let reclaimBytes = min(minReclaim.resolve(totalBytes: total), maxBytes / 4)
        let room = saturatingSubtract(saturatingAdd(usage, space.availableBytes), minFreeBytes)
        let effectiveCap = min(maxBytes, room)
        let evictTo: UInt64? =
            saturatingAdd(usage, incoming) > effectiveCap
            ? saturatingSubtract(saturatingSubtract(effectiveCap, reclaimBytes), incoming)
            : nil
        return CapacityDecision(effectiveCap: effectiveCap, evictTo: evictTo, fits: incoming <= effectiveCap)
    }
}

/// What `CapacityPolicy.decide` asks the store to do.
///
/// When `fits` is false no eviction makes room for the write: refuse it (507) instead of
/// emptying the store for nothing, and decide again with `incoming: 0` to see whether the
/// store must shrink anyway.
public struct CapacityDecision: Equatable, Sendable {
    /// The most the store may hold right now: `min(maxSize, usage + available − minFree)`.
    public var effectiveCap: UInt64
    /// Evict (least recently used first) until the store holds at most this many bytes;
    /// nil when nothing needs evicting.
    public var evictTo: UInt64?
    /// Whether the incoming write can fit at all, counting every byte the store holds as
    /// freeable: `incoming ≤ effectiveCap`.
    public var fits: Bool

    /// A decision from known numbers.
    public init(effectiveCap: UInt64, evictTo: UInt64?, fits: Bool) {
        self.effectiveCap = effectiveCap
        self.evictTo = evictTo
        self.fits = fits
    }

    /// Whether the store must evict before the write (or now, when there is no write).
    public var needsEviction: Bool { evictTo != nil }
}

private func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}

private func saturatingSubtract(_ a: UInt64, _ b: UInt64) -> UInt64 {
    a > b ? a - b : 0
}
