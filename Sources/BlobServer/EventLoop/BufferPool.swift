import Glibc

/// A fixed number of fixed-size buffers carved from one allocation: the connection share of
/// the memory budget. A connection that cannot get a buffer is not read from (it waits in the
/// kernel's queue or is answered 503), so load never turns into memory.
///
/// Buffers are handed out last-freed first, so a lightly loaded server keeps touching the same
/// few pages and the rest of the region is never made resident.
///
/// Owned by one event loop's thread; not thread-safe.
final class BufferPool {
    /// Bytes in each buffer.
    let bufferSize: Int
    /// How many buffers exist.
    let capacity: Int
    private let region: UnsafeMutableRawPointer
    private var free: [Int32]
    /// Buffers whose pages were given back to the kernel and have not been used since.
    private var returned: [Bool]

    /// A pool of `capacity` buffers of `bufferSize` bytes (rounded up to 4 KiB pages).
    init(bufferSize: Int, capacity: Int) {
        precondition(bufferSize > 0 && capacity > 0, "a buffer pool needs buffers")
        self.bufferSize = (bufferSize + 4095) & ~4095
        self.capacity = capacity
        region = .allocate(byteCount: self.bufferSize * capacity, alignment: 4096)
        free = (0..<Int32(capacity)).reversed()
        returned = Array(repeating: true, count: capacity)
    }

    /// A pool that spends at most `budgetBytes` on buffers of `bufferSize` (at least one).
    convenience init(bufferSize: Int, budgetBytes: UInt64) {
        let pageRounded = (bufferSize + 4095) & ~4095
        self.init(bufferSize: bufferSize, capacity: max(1, Int(budgetBytes / UInt64(pageRounded))))
    }

    deinit { region.deallocate() }

    /// Buffers not handed out.
    var available: Int { free.count }

    /// Takes a buffer, or nil when all are in use.
    func acquire() -> BufferPool.Buffer? {
        guard let index = free.popLast() else { return nil }
        returned[Int(index)] = false
        return Buffer(index: index)
    }

    /// Returns a buffer. Each buffer must be released exactly once.
    func release(_ buffer: Buffer) {
        precondition(free.count < capacity, "buffer released twice")
        free.append(buffer.index)
    }

    /// Gives the pages of free buffers back to the kernel, all but the `keeping` most recently
    /// freed (the next to be handed out). After a burst of connections this returns the
    /// process to its idle size; a buffer handed out again is zero pages until written.
    func returnIdlePages(keeping: Int) {
        for index in free.dropLast(keeping) where !returned[Int(index)] {
            madvise(region + Int(index) * bufferSize, bufferSize, MADV_DONTNEED)
            returned[Int(index)] = true
        }
    }

    /// The bytes of `buffer`; valid until it is released.
    func bytes(of buffer: Buffer) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: region + Int(buffer.index) * bufferSize, count: bufferSize)
    }

    /// A handle to one buffer of the pool.
    struct Buffer: Equatable {
        fileprivate let index: Int32
    }
}
