import CBlobSys
import Glibc

/// Whether a directory takes writes, for `/readyz`: write permission (`access`) on a mount
/// that is not read-only (`statvfs`). Two system calls on metadata the kernel holds in memory,
/// cheap enough for the loop's tick. A full disk does not count: the store evicts to make room.
enum WritabilityProbe {
    static func isWritable(_ path: String) -> Bool {
        guard access(path, W_OK) == 0 else { return false }
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return false }
        return info.f_flag & UInt(ST_RDONLY) == 0
    }
}
