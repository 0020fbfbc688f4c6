/// Which pair of link fields of `IndexEntry` a list threads through. An entry can be on one
/// list of each kind at once; the list code is written once and specialized per kind.
protocol EntryLinks {
    static func prev(_ entry: UnsafeMutablePointer<IndexEntry>) -> UInt32
    static func next(_ entry: UnsafeMutablePointer<IndexEntry>) -> UInt32
    static func setPrev(_ entry: UnsafeMutablePointer<IndexEntry>, _ slot: UInt32)
    static func setNext(_ entry: UnsafeMutablePointer<IndexEntry>, _ slot: UInt32)
}

/// The recency list: every live entry, by last use.
enum RecencyLinks: EntryLinks {
    @inline(__always) static func prev(_ entry: UnsafeMutablePointer<IndexEntry>) -> UInt32 { entry.pointee.lruPrev }
    @inline(__always) static func next(_ entry: UnsafeMutablePointer<IndexEntry>) -> UInt32 { entry.pointee.lruNext }
    @inline(__always) static func setPrev(_ entry: UnsafeMutablePointer<IndexEntry>, _ slot: UInt32) { entry.pointee.lruPrev = slot }
    @inline(__always) static func setNext(_ entry: UnsafeMutablePointer<IndexEntry>, _ slot: UInt32) { entry.pointee.lruNext = slot }
}

/// The resident lists (hot or not): entries with pages in the page cache, by last time they were served.
enum ResidentLinks: EntryLinks {
    @inline(__always) static func prev(_ entry: UnsafeMutablePointer<IndexEntry>) -> UInt32 { entry.pointee.residentPrev }
    @inline(__always) static func next(_ entry: UnsafeMutablePointer<IndexEntry>) -> UInt32 { entry.pointee.residentNext }
    @inline(__always) static func setPrev(_ entry: UnsafeMutablePointer<IndexEntry>, _ slot: UInt32) { entry.pointee.residentPrev = slot }
    @inline(__always) static func setNext(_ entry: UnsafeMutablePointer<IndexEntry>, _ slot: UInt32) { entry.pointee.residentNext = slot }
}

/// The ends of an intrusive doubly linked list of entry slots, coldest to hottest. The links
/// live in the entries, so linking and unlinking allocate nothing. The caller passes the
/// entry buffer and guarantees a slot is on the list before unlinking it, and off it before
/// linking it.
struct EntryList<Links: EntryLinks> {
    /// The coldest slot, or `IndexEntry.noLink` when empty.
    private(set) var coldest = IndexEntry.noLink
    /// The hottest slot, or `IndexEntry.noLink` when empty.
    private(set) var hottest = IndexEntry.noLink

    @inline(__always)
    mutating func pushHottest(_ slot: UInt32, in entries: UnsafeMutablePointer<IndexEntry>) {
        let entry = entries + Int(slot)
        Links.setPrev(entry, hottest)
        Links.setNext(entry, IndexEntry.noLink)
        if hottest == IndexEntry.noLink { coldest = slot } else { Links.setNext(entries + Int(hottest), slot) }
        hottest = slot
    }

    @inline(__always)
    mutating func pushColdest(_ slot: UInt32, in entries: UnsafeMutablePointer<IndexEntry>) {
        let entry = entries + Int(slot)
        Links.setPrev(entry, IndexEntry.noLink)
        Links.setNext(entry, coldest)
        if coldest == IndexEntry.noLink { hottest = slot } else { Links.setPrev(entries + Int(coldest), slot) }
        coldest = slot
    }

    @inline(__always)
    mutating func unlink(_ slot: UInt32, in entries: UnsafeMutablePointer<IndexEntry>) {
        let entry = entries + Int(slot)
        let prev = Links.prev(entry)
        let next = Links.next(entry)
        if prev == IndexEntry.noLink { coldest = next } else { Links.setNext(entries + Int(prev), next) }
        if next == IndexEntry.noLink { hottest = prev } else { Links.setPrev(entries + Int(next), prev) }
        Links.setPrev(entry, IndexEntry.noLink)
        Links.setNext(entry, IndexEntry.noLink)
    }

    @inline(__always)
    mutating func moveToHottest(_ slot: UInt32, in entries: UnsafeMutablePointer<IndexEntry>) {
        guard slot != hottest else { return }
        unlink(slot, in: entries)
        pushHottest(slot, in: entries)
    }

    /// The slot after `slot`, one step hotter, or `IndexEntry.noLink` at the hot end.
    @inline(__always)
    func hotter(than slot: UInt32, in entries: UnsafeMutablePointer<IndexEntry>) -> UInt32 {
        Links.next(entries + Int(slot))
    }
}
