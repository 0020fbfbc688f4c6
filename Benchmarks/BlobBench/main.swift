// blobcache-bench: the store-side measurements behind Benchmarks/RESULTS.md. Each subcommand
// prints `key=value` lines that Benchmarks/run.sh collects next to its anchors.
//
//   ingest DATA_DIR FILE       verified, durable ingest of FILE through a BlobWriter
//   index-rss COUNT            RSS bytes per indexed blob at COUNT entries
//   populate DATA_DIR COUNT    makes COUNT small blob files in the store's layout
//   rescan DATA_DIR COUNT      times a full directory rescan into an empty index
//   restart DATA_DIR COUNT     times opening the store (snapshot + journal) until ready
//   pagecache DATA_DIR MIB BUDGET_MIB
//                              writes MIB of 8 MiB blobs, reads them all back twice through the
//                              store with a page-cache budget, then waits for the trim; run.sh
//                              measures the data directory with fincore afterwards
import BlobStore
import CBlobSys
import Glibc

func fail(_ message: String) -> Never {
    _ = "blobcache-bench: \(message)\n".withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// A field of /proc/self/status in bytes (VmRSS, VmHWM).
func procStatus(_ field: String) -> UInt64 {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(field + ":") {
            let digits = text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0"
            return (UInt64(digits.filter(\.isNumber)) ?? 0) * 1024
        }
    }
    return 0
}

func storeOptions(entries: Int) -> BlobStoreOptions {
    var options = BlobStoreOptions()
    options.reconcileInBackground = false
    options.maxEntries = entries
    options.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(0))
    return options
}

/// The digest of the tiny blob number `n`: its 8-byte little-endian counter.
func tinyBlob(_ n: UInt64) -> (bytes: [UInt8], digest: Digest) {
    let bytes = withUnsafeBytes(of: n.littleEndian) { Array($0) }
    return (bytes, StreamingHasher.digest(of: bytes))
}

func ingest(dataDirectory: String, file: String) throws {
    let source = try FileDescriptor.open(file, flags: O_RDONLY)
    let size = try source.size(path: file)
    let store = try BlobStore(directory: dataDirectory, options: storeOptions(entries: 1024))
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    defer { buffer.deallocate() }
    let start = now()
    let writer = try store.makeWriter(expectedSize: size)
    var offset: UInt64 = 0
    while true {
        let count = try source.read(into: buffer, at: offset, path: file)
        if count == 0 { break }
        try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        offset += UInt64(count)
    }
    let digest = try writer.commit()
    let seconds = now() - start
    print("ingest_seconds=\(seconds)")
    print("ingest_bytes=\(size)")
    print("ingest_digest=\(digest)")
    print("ingest_peak_rss=\(procStatus("VmHWM"))")
    try store.remove(digest)
    try store.close()
}

func indexRSS(count: Int) {
    let before = procStatus("VmRSS")
    let index = BlobIndex(capacity: count)
    for n in 0..<UInt64(count) {
        index.insert(tinyBlob(n).digest, size: n, at: .hottest)
    }
    let after = procStatus("VmRSS")
    precondition(index.count == count)
    print("index_entries=\(count)")
    print("index_rss_bytes=\(after - before)")
    print("index_rss_bytes_per_entry=\(Double(after - before) / Double(count))")
    print("index_bytes_per_entry_at_cap=\(index.bytesPerEntry)")
}

func populate(dataDirectory: String, count: Int) throws {
    // Files are written directly in the store's layout, without fsync: this measures
    // restart and rescan, not ingest.
    _ = mkdir(dataDirectory, 0o755)
    for path in ["blobs", "blobs/sha256"] { _ = mkdir("\(dataDirectory)/\(path)", 0o755) }
    for n in 0..<UInt64(count) {
        let (bytes, digest) = tinyBlob(n)
        let hex = digest.hex
        let fanOut = "\(dataDirectory)/blobs/sha256/\(hex.prefix(2))"
        var fd = open("\(fanOut)/\(hex)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 {
            _ = mkdir(fanOut, 0o755)
            fd = open("\(fanOut)/\(hex)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        guard fd >= 0 else { fail("cannot create \(fanOut)/\(hex)") }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
    print("populated=\(count)")
}

func rescan(dataDirectory: String, count: Int) throws {
    let store = try BlobStore(directory: dataDirectory, options: storeOptions(entries: count + 1024))
    guard store.stats().blobs == 0 else { fail("rescan needs a store without index files") }
    let start = now()
    let report = try store.reconcile()
    print("rescan_seconds=\(now() - start)")
    print("rescan_adopted=\(report.adopted)")
    try store.close()
}

func restart(dataDirectory: String, expected: Int) throws {
    let start = now()
    let store = try BlobStore(directory: dataDirectory, options: storeOptions(entries: expected + 1024))
    let seconds = now() - start
    let blobs = store.stats().blobs
    guard blobs == expected else { fail("restart found \(blobs) blobs, expected \(expected)") }
    print("restart_seconds=\(seconds)")
    print("restart_blobs=\(blobs)")
    print("restart_peak_rss=\(procStatus("VmHWM"))")
    // close() writes a snapshot with the store's lock held: how long writers would wait.
    let snapshotStart = now()
    try store.close()
    print("snapshot_seconds=\(now() - snapshotStart)")
}

func pageCache(dataDirectory: String, mebibytes: Int, budgetMebibytes: Int) throws {
    var options = storeOptions(entries: 4096)
    options.pageCacheBudget = UInt64(budgetMebibytes) << 20
    options.capacityRefreshSeconds = 0.2
    let store = try BlobStore(directory: dataDirectory, options: options)
    let blobSize = 8 << 20
    var digests: [Digest] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    defer { buffer.deallocate() }
    for n in 0..<(mebibytes / 8) {
        let writer = try store.makeWriter(expectedSize: UInt64(blobSize))
        for chunk in 0..<8 {
            for index in stride(from: 0, to: buffer.count, by: 8) {
                buffer.storeBytes(of: UInt64(n) << 32 | UInt64(chunk) << 24 | UInt64(index), toByteOffset: index, as: UInt64.self)
            }
            try writer.write(UnsafeRawBufferPointer(buffer))
        }
        digests.append(try writer.commit())
    }
    for _ in 0..<2 {
        for digest in digests {
            switch try store.open(digest) {
            case .some(let blob):
                var offset: UInt64 = 0
                while offset < blob.size {
                    offset += UInt64(try blob.descriptor.read(into: buffer, at: offset))
                }
                store.noteServed(digest, bytes: blob.size)
            case .none: fail("blob \(digest) vanished")
            }
        }
    }
    // The maintenance thread trims asynchronously; give it a round.
    usleep(1_000_000)
    print("pagecache_blobs=\(digests.count)")
    print("pagecache_estimate_bytes=\(store.stats().residentBytesEstimate)")
    try store.close()
}

func number(_ text: String) -> Int {
    guard let value = Int(text), value > 0 else { fail("COUNT must be a positive number, got '\(text)'") }
    return value
}

let arguments = CommandLine.arguments
do {
    switch (arguments.count, arguments.count > 1 ? arguments[1] : "") {
    case (4, "ingest"): try ingest(dataDirectory: arguments[2], file: arguments[3])
    case (3, "index-rss"): indexRSS(count: number(arguments[2]))
    case (4, "populate"): try populate(dataDirectory: arguments[2], count: number(arguments[3]))
    case (5, "pagecache"): try pageCache(dataDirectory: arguments[2], mebibytes: number(arguments[3]), budgetMebibytes: number(arguments[4]))
    case (4, "rescan"): try rescan(dataDirectory: arguments[2], count: number(arguments[3]))
    case (4, "restart"): try restart(dataDirectory: arguments[2], expected: number(arguments[3]))
    default: fail("usage: blobcache-bench ingest DIR FILE | index-rss COUNT | populate DIR COUNT | rescan DIR COUNT | restart DIR COUNT | pagecache DIR MIB BUDGET_MIB")
    }
} catch {
    fail("\(error)")
}
