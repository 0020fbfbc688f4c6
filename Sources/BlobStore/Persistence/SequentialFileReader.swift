/// Reads a file front to back through one fixed buffer, handing out contiguous windows of
/// up to `window` bytes, so records can be parsed across chunk boundaries without loading
/// the file whole.
///
/// Owned by one thread; borrows the descriptor, which the caller keeps open.
struct SequentialFileReader: ~Copyable {
    private let descriptor: Int32
    private let path: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var fileOffset: UInt64 = 0
    private var atEnd = false

    init(descriptor: Int32, path: String, bufferSize: Int = 1 << 20) {
        self.descriptor = descriptor
        self.path = path
        self.buffer = .allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Bytes consumed so far.
    var consumed: UInt64 { fileOffset - UInt64(end - start) }

    /// At least `minimum` bytes (fewer only at the end of the file) without consuming them.
    mutating func peek(minimum: Int) throws(SystemError) -> UnsafeRawBufferPointer {
        if end - start < minimum && !atEnd {
            if start > 0 {
                buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
                end -= start
                start = 0
            }
            while end - start < minimum && !atEnd {
                let raw = buffer.baseAddress!
                let count = end
                let fd = descriptor
                let offset = fileOffset
                let got = try syscall("pread", path: path) {
                    pread(fd, raw + count, buffer.count - count, off_t(offset))
                }
                if got == 0 { atEnd = true }
                end += got
                fileOffset += UInt64(got)
            }
        }
        return UnsafeRawBufferPointer(rebasing: buffer[start..<end])
    }

    /// Marks `count` bytes of the last peek as consumed.
    mutating func consume(_ count: Int) {
        precondition(count <= end - start)
        start += count
    }
}

import Glibc
