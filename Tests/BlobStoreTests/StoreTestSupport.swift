import Glibc
import Testing
@_exported import TestSupport
@testable import BlobStore

/// Reads a whole open blob with pread.
func readAll(_ blob: borrowing OpenBlob) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Int(blob.size))
    var offset = 0
    while offset < out.count {
        let count = try out.withUnsafeMutableBytes { buffer in
            try blob.descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), at: UInt64(offset))
        }
        if count == 0 { break }
        offset += count
    }
    return Array(out.prefix(offset))
}


/// Every blob file under data/blobs, as relative paths.
func blobFiles(in data: String) -> [String] {
    var files: [String] = []
    for algorithm in ["sha256", "sha512"] {
        for fanOut in directoryEntries("\(data)/blobs/\(algorithm)") {
            for name in directoryEntries("\(data)/blobs/\(algorithm)/\(fanOut)") {
                files.append("\(algorithm)/\(fanOut)/\(name)")
            }
        }
    }
    return files
}

/// Overwrites a file's bytes in place (simulated bit rot).
func corrupt(file path: String, at offset: Int = 0) {
    let fd = open(path, O_WRONLY)
    precondition(fd >= 0)
    var byte: UInt8 = 0xFF
    _ = pwrite(fd, &byte, 1, off_t(offset))
    close(fd)
}

struct BlobUnexpectedlyMissing: Error {}

/// Opens a blob the test expects the store to have.
func openExisting(_ store: BlobStore, _ digest: Digest) throws -> OpenBlob {
    switch try store.open(digest) {
    case .some(let blob): return blob
    case .none: throw BlobUnexpectedlyMissing()
    }
}

/// Whether `open` reports a miss.
func isMiss(_ store: BlobStore, _ digest: Digest) throws -> Bool {
    switch try store.open(digest) {
    case .some: false
    case .none: true
    }
}
