import CBlobSys
import Glibc

extension BlobStore {
    /// Re-hashes every blob file. A file whose content does not match its name is moved to
    /// `quarantine/` and dropped from the index, so the next request for it is a miss and gets
    /// refetched. Reads through one 1 MiB buffer and drops each file's pages after hashing, so
    /// a scrub of any size neither grows memory nor evicts the hot page cache.
    ///
    /// `progress` is called on this thread after each blob. Blocking: run it on its own thread.
    public func verify(progress: ((ScrubProgress) -> Void)? = nil) throws(BlobStoreError) -> ScrubReport {
        var report = ScrubReport()
        let bytesTotal = state.withLock { $0.index.totalBytes }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        do {
            try forEachBlobFile { digests in
                for digest in digests {
                    guard let checked = try hashFile(of: digest, buffer: buffer) else { continue }
                    report.blobsChecked += 1
                    report.bytesChecked += checked.size
                    if checked.digest != digest {
                        try quarantine(digest)
                        report.quarantined.append(digest)
                    }
                    progress?(ScrubProgress(
                        blobsChecked: report.blobsChecked, bytesChecked: report.bytesChecked,
                        bytesTotal: bytesTotal, quarantined: report.quarantined.count))
                }
            }
        } catch let error as SystemError {
            throw .system(error)
        } catch {
            throw .system(SystemError(call: "verify", path: path, errno: EIO))
        }
        return report
    }

    /// Hashes the file of `digest` with its algorithm; nil if the file vanished meanwhile.
    private func hashFile(of digest: Digest, buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> (digest: Digest, size: UInt64)? {
        let path = StoreLayout.path(of: digest)
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, in: root.rawValue, flags: O_RDONLY | cbs_O_NOFOLLOW)
        } catch where error.errno == ENOENT {
            return nil
        }
        let hasher = StreamingHasher(digest.algorithm)
        var offset: UInt64 = 0
        while true {
            let count = try file.read(into: buffer, at: offset, path: path)
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += UInt64(count)
        }
        file.dropCachedPages()
        return (hasher.finish(), offset)
    }

    /// Moves a bad blob aside (kept for inspection) and makes it a miss.
    private func quarantine(_ digest: Digest) throws(SystemError) {
        let target = "\(StoreLayout.quarantine)/\(digest.algorithm)-\(digest.hex)-\(time(nil))"
        let source = StoreLayout.path(of: digest)
        try syscall("renameat", path: source) { renameat(root.rawValue, source, root.rawValue, target) }
        forget(digest)
        state.withLock { $0.quarantined += 1 }
    }
}
