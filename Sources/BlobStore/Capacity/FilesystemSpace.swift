import Glibc

/// The size of a filesystem and the space an unprivileged writer may still use on it: the
/// input `CapacityPolicy` needs. A snapshot; read it again before each decision.
public struct FilesystemSpace: Equatable, Sendable {
    /// The filesystem's size: `f_blocks × f_frsize`.
    public var totalBytes: UInt64
    /// What an unprivileged writer may still use: `f_bavail × f_frsize`. Excludes the blocks
    /// reserved for root, which the store (not running as root, or not meant to) cannot count on.
    public var availableBytes: UInt64

    /// A snapshot from known numbers (tests, or a quota the caller computed itself).
    public init(totalBytes: UInt64, availableBytes: UInt64) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
    }

    /// The space of the filesystem that holds the open directory `fd`; `path` only names it
    /// in an error. The descriptor stays the caller's. The corresponding C function is `fstatvfs`.
    public static func of(
        directory fd: Int32, path: @autoclosure () -> String = ""
    ) throws(SystemError) -> FilesystemSpace {
        var info = statvfs()
        try syscall("fstatvfs", path: path()) { fstatvfs(fd, &info) }
        return FilesystemSpace(info)
    }

    /// The space of the filesystem that holds `path`. The corresponding C function is `statvfs`.
    public static func of(path: String) throws(SystemError) -> FilesystemSpace {
        var info = statvfs()
        try syscall("statvfs", path: path) { statvfs(path, &info) }
        return FilesystemSpace(info)
    }

    /// Converts block counts to bytes, saturating instead of trapping on absurd values.
    init(_ info: statvfs) {
        // Some filesystems leave the fragment size 0; the block size is then the unit.
        let unit = UInt64(info.f_frsize != 0 ? info.f_frsize : info.f_bsize)
        self.init(
            totalBytes: FilesystemSpace.bytes(blocks: UInt64(info.f_blocks), unit: unit),
            availableBytes: FilesystemSpace.bytes(blocks: UInt64(info.f_bavail), unit: unit))
    }

    private static func bytes(blocks: UInt64, unit: UInt64) -> UInt64 {
        let (product, overflow) = blocks.multipliedReportingOverflow(by: unit)
        return overflow ? .max : product
    }
}
