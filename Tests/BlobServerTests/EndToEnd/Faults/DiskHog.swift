import Glibc

/// Another tenant of the filesystem: a file outside the store that takes every free byte, so the
/// store cannot win room back by evicting more than it holds. `leave` deletes it and the space
/// returns.
final class DiskHog {
    let path: String
    private(set) var bytes = 0
    private var present = true

    /// Writes `path` until the filesystem is full (ENOSPC), in pieces from 1 MiB down to 4 KiB.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EndToEndFailure("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var piece = zeros.count
        while piece >= 4096 {
            let written = zeros.withUnsafeBytes { write(fd, $0.baseAddress, piece) }
            if written > 0 {
                bytes += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && errno == ENOSPC {
                piece /= 2
            } else {
                throw EndToEndFailure("writing \(path): errno \(errno)")
            }
        }
    }

    deinit { leave() }

    /// Deletes the file: its space is free again.
    func leave() {
        guard present else { return }
        present = false
        unlink(path)
    }
}
