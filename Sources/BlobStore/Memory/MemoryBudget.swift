/// The one number that bounds the process's memory, page cache included, and its fixed split.
///
/// Shares of `total`:
/// - connection buffers, 25%: a pool of fixed-size buffers; connections beyond it wait or get 503;
/// - index, 12.5%: entries of a fixed size each, so it also caps the number of entries;
/// - fill buffers, 12.5%: one set per upstream or peer fetch, capping concurrent fills;
/// - page cache, 25%: store-file pages the server leaves resident (`page_cache_budget`);
/// - the rest, 25%: the process itself (code, stacks, allocator slack).
///
/// Page cache counts because the kernel charges it to the cgroup. A pure value.
public struct MemoryBudget: Equatable, Sendable {
    /// The whole budget in bytes.
    public var total: UInt64

    /// The budget when neither configuration nor a cgroup limit gives one: 128 MiB.
    public static let defaultTotal: UInt64 = 128 * ByteSize.mebibyte

    /// A budget of `total` bytes.
    public init(total: UInt64) {
        self.total = total
    }

    /// The pool of connection buffers: 25%.
    public var connectionBufferBytes: UInt64 { total / 4 }
    /// The index's entries: 12.5%.
    public var indexBytes: UInt64 { total / 8 }
    /// Buffers of fills in flight: 12.5%.
    public var fillBufferBytes: UInt64 { total / 8 }
    /// Store-file pages left resident: 25%.
    public var pageCacheBytes: UInt64 { total / 4 }
    /// What is left for the process itself (code, stacks, allocator slack): about 25%, and it
    /// takes the rounding of the other shares so that the shares add up to `total`.
    public var processBytes: UInt64 {
        total - connectionBufferBytes - indexBytes - fillBufferBytes - pageCacheBytes
    }

    /// How many index entries fit in the index share at `bytesPerEntry` each; at least 1024,
    /// so a tiny budget still makes a usable cache.
    public func indexEntryCap(bytesPerEntry: Int) -> Int {
        precondition(bytesPerEntry > 0, "an index entry takes at least one byte")
        return max(1024, Int(clamping: indexBytes / UInt64(bytesPerEntry)))
    }

    /// The budget to run with: the configured value wins, else the cgroup's memory limit
    /// (see `CgroupMemoryLimit.current()`), else `defaultTotal`.
    public static func resolve(configured: UInt64?, cgroupLimit: UInt64?) -> MemoryBudget {
        MemoryBudget(total: configured ?? cgroupLimit ?? defaultTotal)
    }
}
