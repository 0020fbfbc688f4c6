import Glibc
import TestSupport

/// A tmpfs of a fixed size that the test mounts on a fresh directory, so that a disk really
/// fills. Needs root (CAP_SYS_ADMIN): without it the test fails with that said, never skips.
///
/// Cleanup: `unmount` (lazy, so files still open elsewhere do not keep it mounted), called by
/// the test in a `defer` and again at deinit; the directory goes after it.
final class TmpfsMount {
    private let directory: StoreTestDirectory
    let size: Int
    private var mounted = true

    /// The mount point.
    var path: String { directory.path }

    init(bytes: Int, label: String) throws {
        directory = StoreTestDirectory(label)
        size = bytes
        guard mount("tmpfs", directory.path, "tmpfs", 0, "size=\(bytes),mode=0755") == 0 else {
            let code = errno
            mounted = false
            throw EndToEndFailure(
                "mount -t tmpfs -o size=\(bytes) on \(directory.path) failed: \(String(cString: strerror(code))); the disk-full tests need root (CAP_SYS_ADMIN)")
        }
    }

    deinit { unmount() }

    func unmount() {
        guard mounted else { return }
        mounted = false
        umount2(directory.path, Int32(MNT_DETACH))
    }

    /// Bytes an unprivileged writer could still put on it (statvfs `f_bavail`).
    var availableBytes: Int {
        var info = statvfs()
        guard statvfs(directory.path, &info) == 0 else { return 0 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }
}
