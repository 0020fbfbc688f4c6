import CBlobSys
import Glibc

/// An open file descriptor with exactly one owner. The owner's scope ends the descriptor:
/// it is closed when the value is destroyed, unless `take()` hands the raw number on.
///
/// Not thread-safe by itself: the owner may lend `rawValue` to other threads only while it
/// keeps the value alive.
public struct FileDescriptor: ~Copyable, Sendable {
    /// The raw descriptor, valid while this value lives.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`, which must be open and owned by nobody else.
    public init(owning rawValue: Int32) {
        precondition(rawValue >= 0, "FileDescriptor needs an open descriptor")
        self.rawValue = rawValue
    }

    deinit { Glibc.close(rawValue) }

    /// Gives up ownership without closing: the caller now owns the raw descriptor.
    public consuming func take() -> Int32 {
        let raw = rawValue
        discard self
        return raw
    }

    /// Opens `path` relative to the directory `directory` (AT_FDCWD: the working directory).
    /// The corresponding C function is `openat`; O_CLOEXEC is always added. A path with a
    /// NUL byte throws EINVAL: C would see only the part before it, another file.
    public static func open(
        _ path: String, in directory: Int32 = AT_FDCWD, flags: Int32, mode: mode_t = 0o644
    ) throws(SystemError) -> FileDescriptor {
        if path.utf8.contains(0) { throw SystemError(call: "openat", path: path, errno: EINVAL) }
        let raw = try syscall("openat", path: path) {
            cbs_openat(directory, path, flags | cbs_O_CLOEXEC, mode)
        }
        return FileDescriptor(owning: raw)
    }

    /// Opens a directory for use as the base of `*at` calls.
    public static func openDirectory(_ path: String) throws(SystemError) -> FileDescriptor {
        try open(path, flags: O_RDONLY | cbs_O_DIRECTORY)
    }

    /// The file's size in bytes. The corresponding C function is `fstat`.
    public func size(path: @autoclosure () -> String = "") throws(SystemError) -> UInt64 {
        var info = stat()
        try syscall("fstat", path: path()) { fstat(rawValue, &info) }
        return UInt64(info.st_size)
    }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at the end of the file.
    public func read(
        into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64,
        path: @autoclosure () -> String = ""
    ) throws(SystemError) -> Int {
        try syscall("pread", path: path()) {
            pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset))
        }
    }

    /// Reads from the current position; 0 at the end of the stream.
    public func read(
        into buffer: UnsafeMutableRawBufferPointer, path: @autoclosure () -> String = ""
    ) throws(SystemError) -> Int {
        try syscall("read", path: path()) { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `bytes` at the current position, looping over short writes.
    public func writeAll(
        _ bytes: UnsafeRawBufferPointer, path: @autoclosure () -> String = ""
    ) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            done += try syscall("write", path: path()) {
                Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done)
            }
        }
    }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    public func writeAll(
        _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: @autoclosure () -> String = ""
    ) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            done += try syscall("pwrite", path: path()) {
                pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
        }
    }

    /// Flushes data and metadata to stable storage. The corresponding C function is `fsync`.
    public func sync(path: @autoclosure () -> String = "") throws(SystemError) {
        try syscall("fsync", path: path()) { fsync(rawValue) }
    }

    /// Drops the file's cached pages in [offset, offset+length) (0 length: to the end).
    /// Advisory: dirty pages stay until written back.
    public func dropCachedPages(offset: UInt64 = 0, length: UInt64 = 0) {
        _ = cbs_drop_pages(rawValue, off_t(offset), off_t(length))
    }

    /// Makes a second descriptor for the same open file, owned by the caller.
    public func duplicate(path: @autoclosure () -> String = "") throws(SystemError) -> FileDescriptor {
        FileDescriptor(owning: try syscall("fcntl", path: path()) { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }
}
