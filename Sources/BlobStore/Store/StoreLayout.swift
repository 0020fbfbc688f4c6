import CBlobSys
import Glibc

/// Where things live inside a data directory. Paths are relative to the directory's
/// descriptor, so nothing here depends on the working directory.
///
/// ```
/// blobs/sha256/ab/ab12…   one file per blob, named by its digest, fanned out by 2 hex digits
/// blobs/sha512/…
/// tmp/                    named temporaries (only where O_TMPFILE is unsupported)
/// quarantine/             blobs that failed a re-hash
/// index/snapshot          LRU snapshot; index/journal: changes since it
/// lock                    flock'ed by the process that has the directory open
/// ```
enum StoreLayout {
    static let blobs = "blobs"
    static let temporaries = "tmp"
    static let quarantine = "quarantine"
    static let index = "index"
    static let snapshot = "index/snapshot"
    static let snapshotTemporary = "index/snapshot.tmp"
    static let journal = "index/journal"
    static let journalTemporary = "index/journal.tmp"
    static let lock = "lock"

    /// Longest relative blob path: "blobs/sha512/ab/" + 128 hex + NUL.
    static let maxBlobPathLength = 16 + 128 + 1

    /// `blobs/<algorithm>/<xx>`, the fan-out directory of `digest`.
    static func fanOutDirectory(of digest: Digest) -> String {
        let hex = digest.hex
        return "\(blobs)/\(digest.algorithm)/\(hex.prefix(2))"
    }

    /// `blobs/<algorithm>/<xx>/<hex>`.
    static func path(of digest: Digest) -> String {
        let hex = digest.hex
        return "\(blobs)/\(digest.algorithm)/\(hex.prefix(2))/\(hex)"
    }

    /// Writes the NUL-terminated relative path of `digest` into `out` without allocating,
    /// and calls `body` with it: the hot path of `open`.
    static func withPath<R>(of digest: Digest, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxBlobPathLength) { out in
            var at = 0
            func put(_ text: StaticString) {
                text.withUTF8Buffer { for byte in $0 { out[at] = byte; at += 1 } }
            }
            put("blobs/")
            switch digest.algorithm {
            case .sha256: put("sha256/")
            case .sha512: put("sha512/")
            }
            let hexStart = at + 3
            digest.writeHex(into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[hexStart...])))
            out[at] = out[hexStart]
            out[at + 1] = out[hexStart + 1]
            out[at + 2] = UInt8(ascii: "/")
            at = hexStart + digest.algorithm.hexCount
            out[at] = 0
            return try out.baseAddress!.withMemoryRebound(to: CChar.self, capacity: at + 1) { try body($0) }
        }
    }

    /// Creates the directory skeleton under `root` if missing (fan-out directories are made
    /// on first use).
    static func create(in root: Int32) throws(SystemError) {
        for directory in [blobs, "\(blobs)/sha256", "\(blobs)/sha512", temporaries, quarantine, index] {
            try makeDirectory(directory, in: root)
        }
    }

    /// mkdirat that accepts an existing directory.
    static func makeDirectory(_ path: String, in root: Int32) throws(SystemError) {
        if mkdirat(root, path, 0o755) == 0 { return }
        let code = cbs_errno()
        if code == EEXIST { return }
        throw SystemError(call: "mkdirat", path: path, errno: code)
    }

    /// fsyncs the directory at `path` so that entries linked or removed in it are durable.
    static func syncDirectory(_ path: String, in root: Int32) throws(SystemError) {
        let directory = try FileDescriptor.open(path, in: root, flags: O_RDONLY | cbs_O_DIRECTORY)
        try directory.sync(path: path)
    }
}
