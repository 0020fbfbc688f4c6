import CBlobSys
import Glibc

extension BlobStore {
    /// Brings the index in line with the directory, which is the truth: adopts blob files the
    /// index lacks (at the cold end), drops entries whose files are gone, and deletes
    /// temporaries left by dead processes. Walks the directory in constant memory per
    /// fan-out directory; holds the lock only in short batches, so the store serves meanwhile.
    ///
    /// Runs once on the maintenance thread after opening unless
    /// `options.reconcileInBackground` is false.
    @discardableResult
    public func reconcile() throws(BlobStoreError) -> ReconcileReport {
        var report = ReconcileReport()
        do {
            report.temporariesRemoved = try removeStaleTemporaries()
            state.withLock { $0.index.clearMarks() }
            var adopted = 0
            let walk = try forEachBlobFile { digests in
                let missing: [Digest] = state.withLock { state in digests.filter { !state.index.mark($0) } }
                for digest in missing {
                    guard let size = fileSize(of: digest) else { continue }
                    adopt(digest, size: size)
                    state.withLock { _ = $0.index.mark(digest) }
                    adopted += 1
                }
            }
            report.adopted = adopted
            report.filesSeen = walk.files
            report.strayFiles = walk.strays
            report.dropped = sweepUnmarkedEntries()
        } catch let error as SystemError {
            throw .system(error)
        } catch {
            throw .system(SystemError(call: "reconcile", path: path, errno: EIO))
        }
        state.withLock { $0.reconciled = true }
        return report
    }

    /// Calls `body` with the digests of each fan-out directory's files, one directory at a
    /// time. Names that are not canonical digests of the directory's algorithm and prefix are
    /// counted as strays and left alone. Returns the counts of blob files and strays.
    @discardableResult
    func forEachBlobFile(_ body: ([Digest]) throws -> Void) throws -> (files: Int, strays: Int) {
        var files = 0
        var strays = 0
        for algorithm in DigestAlgorithm.allCases {
            let algorithmDirectory = "\(StoreLayout.blobs)/\(algorithm)"
            var fanOuts: [String] = []
            try DirectoryListing.forEachEntry(in: algorithmDirectory, relativeTo: root.rawValue) { name, isDirectory in
                let text = String(cString: name)
                if isDirectory && text.utf8.count == 2 { fanOuts.append(text) } else { strays += 1 }
            }
            for fanOut in fanOuts.sorted() {
                var digests: [Digest] = []
                try DirectoryListing.forEachEntry(in: "\(algorithmDirectory)/\(fanOut)", relativeTo: root.rawValue) { name, _ in
                    let text = String(cString: name)
                    guard let digest = try? Digest(parsing: "\(algorithm):\(text)"), text.hasPrefix(fanOut) else {
                        strays += 1
                        return
                    }
                    files += 1
                    digests.append(digest)
                }
                try body(digests)
            }
        }
        return (files, strays)
    }

    /// Deletes named temporaries that belong to no live writer of this process.
    private func removeStaleTemporaries() throws -> Int {
        let ownPrefix = "\(getpid())."
        var stale: [String] = []
        try DirectoryListing.forEachEntry(in: StoreLayout.temporaries, relativeTo: root.rawValue) { name, _ in
            let text = String(cString: name)
            if !text.hasPrefix(ownPrefix) { stale.append(text) }
        }
        var removed = 0
        for name in stale where unlinkat(root.rawValue, "\(StoreLayout.temporaries)/\(name)", 0) == 0 {
            removed += 1
        }
        return removed
    }

    /// Entries not marked during the walk were either committed meanwhile or lost their file:
    /// a stat tells which. Returns how many were dropped.
    private func sweepUnmarkedEntries() -> Int {
        var dropped = 0
        while true {
            let batch = state.withLock { $0.index.unmarkedDigests(limit: 1024) }
            if batch.isEmpty { return dropped }
            for digest in batch {
                if fileSize(of: digest) != nil {
                    state.withLock { _ = $0.index.mark(digest) }
                } else if forget(digest) {
                    dropped += 1
                }
            }
        }
    }

    /// The size of `digest`'s file, or nil when there is none.
    func fileSize(of digest: Digest) -> UInt64? {
        var info = stat()
        let found = StoreLayout.withPath(of: digest) { path in
            fstatat(root.rawValue, path, &info, AT_SYMLINK_NOFOLLOW) == 0
        }
        return found ? UInt64(info.st_size) : nil
    }
}
