// A child process for the store's crash test: writes, removes and abandons blobs in a loop,
// reporting on stdout each change only after the store call returned (acknowledged), and each
// removal also before it starts (intended). The test
// kills it with SIGKILL at a random moment and checks that every acknowledged change held.
//
// Usage: blobstore-crash-writer DATA_DIR SEED
import BlobStore
import Glibc

let arguments = CommandLine.arguments
guard arguments.count == 3, let seed = UInt64(arguments[2]) else {
    let usage = "usage: blobstore-crash-writer DATA_DIR SEED\n"
    _ = usage.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

var random = seed &* 0x9E37_79B9_7F4A_7C15 | 1
@MainActor func next() -> UInt64 {
    random ^= random << 13
    random ^= random >> 7
    random ^= random << 17
    return random
}

/// Reports one acknowledged change: unbuffered, so nothing said is lost with the process.
func acknowledge(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}

var options = BlobStoreOptions()
options.capacity = CapacityPolicy(maxSize: .percent(100), minFree: .bytes(0), minReclaim: .bytes(0))
options.journalRecordsBeforeSnapshot = 16
options.writebackChunkBytes = 256 << 10

var committed: [Digest] = []
let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
var store = try BlobStore(directory: arguments[1], options: options)
for round in 0... {
    let size = next() % 8 == 0 ? Int(next() % (2 << 20)) : Int(next() % (48 << 10))
    let writer = try store.makeWriter(expectedSize: next() % 2 == 0 ? UInt64(size) : nil)
    var left = size
    let abandon = next() % 10 == 0
    while left > 0 {
        let count = min(left, chunk.count)
        for index in stride(from: 0, to: count, by: 8) {
            let word = next()
            withUnsafeBytes(of: word) { bytes in
                for offset in 0..<min(8, count - index) { chunk[index + offset] = bytes[offset] }
            }
        }
        try writer.write(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
        left -= count
        if abandon && left < size / 2 { break }
    }
    if abandon {
        writer.abandon()
    } else {
        let digest = try writer.commit()
        committed.append(digest)
        acknowledge("C \(digest)")
    }
    if next() % 7 == 0, !committed.isEmpty {
        let victim = committed.remove(at: Int(next() % UInt64(committed.count)))
        // Said before, so a kill between the removal and its acknowledgement is not mistaken
        // for a lost blob.
        acknowledge("r \(victim)")
        try store.remove(victim)
        acknowledge("R \(victim)")
    }
    if round % 25 == 24 {
        // Exercise snapshot writes and reopening: a kill can land in either.
        try store.close()
        store = try BlobStore(directory: arguments[1], options: options)
    }
}
