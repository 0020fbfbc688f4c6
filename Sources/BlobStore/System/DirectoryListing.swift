import CBlobSys
import Glibc

/// Reads the names in a directory one at a time (readdir), so a directory of any size is
/// walked in constant memory. "." and ".." are skipped.
package enum DirectoryListing {
    /// Calls `body` with each entry's NUL-terminated name and whether it is a directory
    /// (`d_type`; DT_UNKNOWN counts as not a directory). The name is valid only during the call.
    package static func forEachEntry(
        in path: String, relativeTo root: Int32,
        _ body: (UnsafePointer<CChar>, _ isDirectory: Bool) throws -> Void
    ) throws {
        let descriptor = try FileDescriptor.open(path, in: root, flags: O_RDONLY | cbs_O_DIRECTORY)
        let raw = descriptor.take()
        guard let stream = fdopendir(raw) else {
            let code = cbs_errno()
            Glibc.close(raw)
            throw SystemError(call: "fdopendir", path: path, errno: code)
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            try withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                try tuple.withMemoryRebound(to: CChar.self, capacity: 256) { name in
                    if name[0] == 0x2e && (name[1] == 0 || (name[1] == 0x2e && name[2] == 0)) { return }
                    try body(name, isDirectory)
                }
            }
        }
    }
}
