import Glibc
import Testing
@testable import BlobStore

/// A fresh directory under /tmp for one test, removed (with everything in it) at the end.
final class StoreTestDirectory {
    let path: String

    init(_ label: String = "store") {
        var template = Array("/tmp/blobcache-test-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { StoreTestDirectory.removeTree(path) }

    /// The data directory inside it.
    var data: String { "\(path)/data" }

    /// `name` inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// Removes `path` and everything below it (like `rm -rf`), without following links.
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in directoryEntries(path) { removeTree("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Options for tests: no background thread surprises unless a test asks for them.
func testOptions(_ configure: (inout BlobStoreOptions) -> Void = { _ in }) -> BlobStoreOptions {
    var options = BlobStoreOptions()
    options.reconcileInBackground = false
    options.capacityRefreshSeconds = 3600
    options.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(0))
    options.maxEntries = 100_000
    configure(&options)
    return options
}

/// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var bytes = [UInt8]()
    bytes.reserveCapacity(count)
    while bytes.count < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        withUnsafeBytes(of: z) { bytes.append(contentsOf: $0.prefix(count - bytes.count)) }
    }
    return bytes
}

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

/// Names of the entries in a directory (not recursive).
func directoryEntries(_ path: String) -> [String] {
    guard let stream = opendir(path) else { return [] }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
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
