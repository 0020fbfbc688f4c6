import BlobStore
import Glibc
import TestSupport

/// Why an end-to-end step failed: thrown, so the test fails with this text.
struct EndToEndFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// How a child process ended, from a raw `waitpid` status.
enum ExitStatus: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(raw status: Int32) {
        self = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }

    var description: String {
        switch self {
        case .exited(let code): "exit code \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// The monotonic clock in seconds.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Sleeps for `seconds` (fractions allowed).
func pause(seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Where `needle` first occurs in `haystack`.
func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
    for index in 0...(haystack.count - needle.count)
    where haystack[index] == needle[0] && haystack[index..<index + needle.count].elementsEqual(needle) {
        return index
    }
    return nil
}

/// Small file helpers: tests read and compare whole (small) files.
enum Files {
    /// The bytes of the file at `path`, or nil if it cannot be opened.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// The file's text (UTF-8), or nil if it cannot be opened.
    static func text(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `bytes` to `path`, replacing it.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EndToEndFailure("cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw EndToEndFailure("cannot write \(path): errno \(errno)") }
            offset += count
        }
    }

    static func write(_ text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

    /// Paths of the regular files below `root`, relative to it, sorted; links are not followed.
    static func regularFiles(below root: String) -> [String] {
        var found: [String] = []
        func walk(_ relative: String) {
            let full = relative.isEmpty ? root : "\(root)/\(relative)"
            for name in directoryEntries(full) {
                let child = relative.isEmpty ? name : "\(relative)/\(name)"
                var info = stat()
                guard lstat("\(root)/\(child)", &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: walk(child)
                case S_IFREG: found.append(child)
                default: break
                }
            }
        }
        walk("")
        return found.sorted()
    }

    /// Whether `path` exists (without following a final link).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The digests of the blobs stored in a blobcache data directory (its `blobs/` tree).
    static func storedBlobs(in dataDirectory: String) -> [String] {
        regularFiles(below: "\(dataDirectory)/blobs").compactMap { path in
            let parts = path.split(separator: "/")
            guard parts.count == 3 else { return nil }
            return "\(parts[0]):\(parts[2])"
        }.sorted()
    }
}

extension Digest {
    /// The digest of `bytes`, with the store's own hasher.
    static func of(_ bytes: [UInt8]) -> Digest { StreamingHasher.digest(of: bytes) }
}

/// The namespace of the end-to-end suites, so `swift test --filter EndToEnd` selects them all.
/// Each suite runs a real `blobcache serve` (and real clients) as child processes.
enum EndToEnd {}
