import BlobStore
import Glibc
import TestSupport

/// Everything a blobcache data directory holds, checked file by file from outside the server:
/// each blob file is re-hashed against the digest it is named by, and each other file must be
/// one a settled store keeps (the lock, the index snapshot and journal, registry and mirror
/// metadata). Temporaries (`tmp/`, `*/tmp/`, `index/*.tmp`) and anything unknown are leftovers;
/// files in `quarantine/` are blobs that once failed a re-hash.
///
/// Take it with the server stopped, or once it has reconciled: a write in flight has no name
/// (O_TMPFILE), but a metadata write in flight would show as a leftover.
struct DataDirectoryAudit {
    /// Blob files whose bytes hash to their name, with their sizes.
    private(set) var blobs: [Digest: Int] = [:]
    /// Blob files whose bytes do not hash to their name: partial or corrupt blobs in plain view.
    private(set) var corrupt: [String] = []
    private(set) var leftovers: [String] = []
    private(set) var quarantined: [String] = []

    init(dataDirectory: String) throws {
        for path in Files.regularFiles(below: dataDirectory) {
            let parts = path.split(separator: "/").map(String.init)
            switch parts.first {
            case "blobs":
                guard parts.count == 4, let digest = try? Digest(parsing: "\(parts[1]):\(parts[3])"), parts[3].hasPrefix(parts[2]) else {
                    leftovers.append(path)
                    continue
                }
                let (actual, size) = try Self.hash("\(dataDirectory)/\(path)", algorithm: digest.algorithm)
                if actual == digest { blobs[digest] = size } else { corrupt.append("\(path) (\(size) bytes hash to \(actual))") }
            case "quarantine":
                quarantined.append(path)
            case "lock" where parts.count == 1:
                break
            case "index" where parts == ["index", "snapshot"] || parts == ["index", "journal"]:
                break
            case "registry", "mirror":
                if parts.count > 1 && parts[1] == "tmp" { leftovers.append(path) }
            default:
                leftovers.append(path)
            }
        }
    }

    /// Whether nothing is corrupt, left over or quarantined.
    var isClean: Bool { corrupt.isEmpty && leftovers.isEmpty && quarantined.isEmpty }

    var summary: String {
        "\(blobs.count) blobs verified; corrupt: \(corrupt); leftovers: \(leftovers); quarantined: \(quarantined)"
    }

    /// The digest and length of the file at `path`, read in 1 MiB pieces.
    static func hash(_ path: String, algorithm: DigestAlgorithm) throws -> (Digest, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EndToEndFailure("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        let hasher = StreamingHasher(algorithm)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var size = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw EndToEndFailure("cannot read \(path): errno \(errno)") }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            size += count
        }
        return (hasher.finish(), size)
    }
}
