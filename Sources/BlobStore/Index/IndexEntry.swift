/// One blob in `BlobIndex`, in a slot of its entry buffer: a fixed 64 bytes, so the index
/// costs the same per entry whatever it holds (the size is asserted in IndexEntryTests).
///
/// A slot is live when the algorithm byte of `flags` is non-zero. A free slot is chained
/// through `lruNext` on the index's free list. Links are slot numbers; `noLink` ends a list.
struct IndexEntry {
    /// The link value meaning "none".
    static let noLink = UInt32.max
    /// The unit of resident page-cache estimates.
    static let pageSize: UInt64 = 4096
    /// Set in `flags` while the entry is marked in a reconciliation pass.
    static let markBit: UInt32 = 1 << 8
    /// Set in `flags` while the blob is hot: requested again soon after its previous request
    /// (see `BlobIndex.noteRequested`).
    static let hotBit: UInt32 = 1 << 9
    private static let algorithmMask: UInt32 = 0xff
    /// `flags` bits 10-31 hold when the blob was last requested, on the index's clock of pages
    /// served, in units of `stampPages`; 0 means not since the index has known it.
    private static let stampShift: UInt32 = 10
    static let stampMask: UInt32 = (1 << 22) - 1
    /// 64 KiB: the stamp goes round every 256 GiB served.
    static let stampPages: UInt64 = 16

    /// The first 32 hash bytes: a whole sha256. A sha512 keeps the rest in the index's tail
    /// table, so the common sha256 costs nothing beyond this entry.
    var head: HashWords
    /// The blob's size in bytes.
    var size: UInt64
    /// Neighbours in the recency list (colder, hotter).
    var lruPrev: UInt32
    var lruNext: UInt32
    /// Neighbours in the resident list (colder, hotter); linked only while `residentPages > 0`.
    var residentPrev: UInt32
    var residentNext: UInt32
    /// Estimated pages of this blob in the page cache, never more than the blob's own pages.
    var residentPages: UInt32
    /// Low byte: `DigestAlgorithm.rawValue` (0 in a free slot). `markBit`: reconciliation mark.
    /// `hotBit`, and above it the request stamp.
    var flags: UInt32

    /// A live, unlinked, marked entry with no resident pages.
    @inline(__always)
    init(head: HashWords, algorithm: DigestAlgorithm, size: UInt64) {
        self.head = head
        self.size = size
        lruPrev = Self.noLink
        lruNext = Self.noLink
        residentPrev = Self.noLink
        residentNext = Self.noLink
        residentPages = 0
        flags = UInt32(algorithm.rawValue) | Self.markBit
    }

    /// The raw algorithm byte; 0 in a free slot.
    @inline(__always)
    var algorithmByte: UInt32 { flags & Self.algorithmMask }

    /// The digest algorithm of a live entry.
    var algorithm: DigestAlgorithm {
        guard let algorithm = DigestAlgorithm(rawValue: UInt8(algorithmByte)) else {
            preconditionFailure("IndexEntry: algorithm of a free slot")
        }
        return algorithm
    }

    @inline(__always)
    var isLive: Bool { algorithmByte != 0 }

    var isMarked: Bool {
        @inline(__always) get { flags & Self.markBit != 0 }
        @inline(__always) set { flags = newValue ? flags | Self.markBit : flags & ~Self.markBit }
    }

    var isHot: Bool {
        @inline(__always) get { flags & Self.hotBit != 0 }
        @inline(__always) set { flags = newValue ? flags | Self.hotBit : flags & ~Self.hotBit }
    }

    /// When the blob was last requested (see `stampMask`).
    var requestStamp: UInt32 {
        @inline(__always) get { flags >> Self.stampShift }
        @inline(__always) set { flags = flags & ~(Self.stampMask << Self.stampShift) | (newValue & Self.stampMask) << Self.stampShift }
    }

    /// The stamp of `clock` pages served: never 0, which means "not requested".
    @inline(__always)
    static func stamp(ofClock clock: UInt64) -> UInt32 {
        let stamp = UInt32(truncatingIfNeeded: clock / stampPages) & stampMask
        return stamp == 0 ? 1 : stamp
    }

    /// The most pages this blob can have resident: its size in pages, rounded up.
    @inline(__always)
    var pageLimit: UInt32 { Self.pages(covering: size) }

    /// Pages needed to hold `bytes`, rounded up, saturating at `UInt32.max` (16 TiB).
    @inline(__always)
    static func pages(covering bytes: UInt64) -> UInt32 {
        let pages = bytes / pageSize + (bytes % pageSize == 0 ? 0 : 1)
        return UInt32(clamping: pages)
    }
}
