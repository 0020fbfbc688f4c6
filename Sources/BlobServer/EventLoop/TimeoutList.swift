/// Deadlines for connections that all use the same timeout (header, idle or body), in O(1).
///
/// With one duration for every member, the order in which deadlines are set is the order in
/// which they expire: a FIFO list is already sorted. Setting a deadline moves the member to the
/// tail; the loop pops expired members from the head. Members are slot numbers (< capacity).
///
/// A pure value of the loop's thread: time is passed in, so tests use a fake clock.
struct TimeoutList {
    /// The timeout every member gets, in nanoseconds.
    let duration: UInt64
    private var deadlines: [UInt64]
    private var previous: [Int32]
    private var next: [Int32]
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private static let absent: Int32 = -2

    init(duration: UInt64, capacity: Int) {
        self.duration = duration
        deadlines = Array(repeating: 0, count: capacity)
        previous = Array(repeating: Self.absent, count: capacity)
        next = Array(repeating: Self.absent, count: capacity)
    }

    /// Whether `slot` has a deadline here.
    func contains(_ slot: Int) -> Bool { previous[slot] != Self.absent }

    /// Sets `slot`'s deadline to `now + duration`, replacing any earlier one.
    mutating func arm(_ slot: Int, now: UInt64) {
        remove(slot)
        deadlines[slot] = now + duration
        previous[slot] = tail
        next[slot] = -1
        if tail >= 0 { next[Int(tail)] = Int32(slot) } else { head = Int32(slot) }
        tail = Int32(slot)
    }

    /// Clears `slot`'s deadline, if it has one.
    mutating func remove(_ slot: Int) {
        guard contains(slot) else { return }
        let before = previous[slot]
        let after = next[slot]
        if before >= 0 { next[Int(before)] = after } else { head = after }
        if after >= 0 { previous[Int(after)] = before } else { tail = before }
        previous[slot] = Self.absent
        next[slot] = Self.absent
    }

    /// Removes and returns the member whose deadline passed by `now`, oldest first; nil when
    /// none has.
    mutating func popExpired(now: UInt64) -> Int? {
        guard head >= 0, deadlines[Int(head)] <= now else { return nil }
        let slot = Int(head)
        remove(slot)
        return slot
    }

    /// Nanoseconds until the earliest deadline (0 if passed), or nil when the list is empty:
    /// how long the loop may sleep in epoll_wait.
    func timeUntilNextDeadline(now: UInt64) -> UInt64? {
        guard head >= 0 else { return nil }
        let deadline = deadlines[Int(head)]
        return deadline > now ? deadline - now : 0
    }
}
