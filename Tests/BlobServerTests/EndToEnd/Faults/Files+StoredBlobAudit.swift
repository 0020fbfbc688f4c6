@testable import BlobStore

extension Files {
    /// The blobs in a blobcache data directory whose file does not hash to its name: what a
    /// cache must never hold. Reads each file whole (fault tests keep their blobs small).
    static func storedBlobsThatDoNotVerify(in dataDirectory: String) -> [String] {
        storedBlobs(in: dataDirectory).filter { name in
            guard let digest = try? Digest(parsing: name), let bytes = read("\(dataDirectory)/\(StoreLayout.path(of: digest))") else {
                return true
            }
            return StreamingHasher.digest(of: bytes, using: digest.algorithm) != digest
        }
    }

    /// Files left in the data directory's `tmp/` (used only where O_TMPFILE is not): a fill
    /// that failed must leave none.
    static func leftoverTemporaries(in dataDirectory: String) -> [String] {
        regularFiles(below: "\(dataDirectory)/tmp")
    }
}
