import BlobStore
import CBlobSys
import Glibc
import Synchronization

/// A directory of small files, read and written by paths relative to it; the registry keeps its
/// tags and manifest records here. Writes are atomic and durable: a temporary file in `tmp/`
/// is written and fsynced, renamed over the target, and the target's directory is fsynced, so
/// a reader (or a restart after a crash) sees the old file or the new one, never a mix.
///
/// Blocking: every method does file I/O, so call them from workers. Thread-safe: calls share
/// only the directory's descriptor, and temporary names are unique in the process (the store's
/// lock keeps other processes out).
final class MetadataDirectory: Sendable {
    let path: String
    private let root: FileDescriptor
    private static let temporaries = "tmp"
    private static let temporaryCounter = Atomic<UInt64>(0)

    /// Opens (creating if needed) the directory at `path`, and deletes temporaries that earlier
    /// processes left behind.
    init(path: String) throws(SystemError) {
        self.path = path
        if mkdir(path, 0o755) == 0 {
            // The new entry in the parent must survive a crash, or every file below goes with it.
            try FileDescriptor.openDirectory(path + "/..").sync(path: path + "/..")
        } else if cbs_errno() != EEXIST {
            throw SystemError(call: "mkdir", path: path, errno: cbs_errno())
        }
        root = try FileDescriptor.openDirectory(path)
        try makeDirectories(Self.temporaries)
        try removeStaleTemporaries()
    }

    /// The whole file at `relative`, or nil when it does not exist. A file over `limit` bytes is
    /// an error (EFBIG): metadata files are small, and a big one is not ours.
    func read(_ relative: String, limit: Int) throws(SystemError) -> [UInt8]? {
        let raw = cbs_openat(root.rawValue, relative, O_RDONLY | cbs_O_CLOEXEC | cbs_O_NOFOLLOW, 0)
        if raw < 0 {
            let code = cbs_errno()
            if code == ENOENT || code == ENOTDIR { return nil }
            throw SystemError(call: "openat", path: relative, errno: code)
        }
        let file = FileDescriptor(owning: raw)
        let size = try file.size(path: relative)
        guard size <= UInt64(limit) else { throw SystemError(call: "read", path: relative, errno: EFBIG) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let count = try bytes.withUnsafeMutableBytes { buffer in
                Result { () throws(SystemError) in
                    try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: UInt64(done), path: relative)
                }
            }.get()
            // Files are replaced by rename, never truncated, so an early end means a broken file.
            if count == 0 { throw SystemError(call: "read", path: relative, errno: EIO) }
            done += count
        }
        return bytes
    }

    /// Replaces the file at `relative` with `bytes` atomically and durably, creating its
    /// directories as needed.
    func write(_ bytes: [UInt8], to relative: String) throws(SystemError) {
        let counter = Self.temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let temporary = "\(Self.temporaries)/\(getpid()).\(counter).tmp"
        do throws(SystemError) {
            let file = try FileDescriptor.open(temporary, in: root.rawValue, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(SystemError) in try file.writeAll(buffer, path: temporary) }
            }.get()
            try file.sync(path: temporary)
            let parent = Self.parent(of: relative)
            if let parent { try makeDirectories(parent) }
            try syscall("renameat", path: relative) { renameat(root.rawValue, temporary, root.rawValue, relative) }
            try syncDirectory(parent)
        } catch {
            unlinkat(root.rawValue, temporary, 0)
            throw error
        }
    }

    /// Removes the file at `relative`, durably. Returns whether it was there.
    @discardableResult
    func remove(_ relative: String) throws(SystemError) -> Bool {
        if unlinkat(root.rawValue, relative, 0) != 0 {
            let code = cbs_errno()
            if code == ENOENT || code == ENOTDIR { return false }
            throw SystemError(call: "unlinkat", path: relative, errno: code)
        }
        try syncDirectory(Self.parent(of: relative))
        return true
    }

    /// Whether `relative` names a directory.
    func isDirectory(_ relative: String) -> Bool {
        var info = stat()
        return fstatat(root.rawValue, relative, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// The names in directory `relative` that `accept` takes, the `limit` smallest after `after`,
    /// ascending, and whether more follow. nil when the directory does not exist. One pass of
    /// readdir in O(`limit`) memory.
    func smallestNames(
        in relative: String, after: String?, limit: Int, accept: (String) -> Bool
    ) throws(SystemError) -> (names: [String], hasMore: Bool)? {
        var selection = SmallestNames(limit: limit)
        do {
            try DirectoryListing.forEachEntry(in: relative, relativeTo: root.rawValue) { raw, _ in
                let name = String(cString: raw)
                if let after, name <= after { return }
                if accept(name) { selection.offer(name) }
            }
        } catch let error as SystemError {
            if error.errno == ENOENT || error.errno == ENOTDIR { return nil }
            throw error
        } catch {
            throw SystemError(call: "readdir", path: relative, errno: EIO)
        }
        let names = selection.sorted()
        return (names, selection.hasMore)
    }

    /// Creates `relative` and its missing ancestors, fsyncing each parent that gained an entry.
    private func makeDirectories(_ relative: String) throws(SystemError) {
        var prefix = ""
        for component in relative.split(separator: "/") {
            let parent = prefix.isEmpty ? nil : prefix
            prefix = prefix.isEmpty ? String(component) : "\(prefix)/\(component)"
            if mkdirat(root.rawValue, prefix, 0o755) == 0 {
                try syncDirectory(parent)
            } else if cbs_errno() != EEXIST {
                throw SystemError(call: "mkdirat", path: prefix, errno: cbs_errno())
            }
        }
    }

    /// fsyncs directory `relative` (nil: the root) so entries added or removed in it are durable.
    private func syncDirectory(_ relative: String?) throws(SystemError) {
        let directory = try FileDescriptor.open(relative ?? ".", in: root.rawValue, flags: O_RDONLY | cbs_O_DIRECTORY)
        try directory.sync(path: relative ?? path)
    }

    private static func parent(of relative: String) -> String? {
        relative.lastIndex(of: "/").map { String(relative[..<$0]) }
    }

    /// Deletes temporaries of other processes (this one's may be in use).
    private func removeStaleTemporaries() throws(SystemError) {
        let own = "\(getpid())."
        var stale: [String] = []
        do {
            try DirectoryListing.forEachEntry(in: Self.temporaries, relativeTo: root.rawValue) { raw, _ in
                let name = String(cString: raw)
                if !name.hasPrefix(own) { stale.append(name) }
            }
        } catch {
            throw (error as? SystemError) ?? SystemError(call: "readdir", path: Self.temporaries, errno: EIO)
        }
        for name in stale { unlinkat(root.rawValue, "\(Self.temporaries)/\(name)", 0) }
    }
}
