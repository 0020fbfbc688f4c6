import BlobStore
import Glibc
import Testing
import Synchronization
import TestSupport
@testable import BlobServer

/// Blocking file work must never stall a loop: a client streaming a 1 GiB blob whose pages are
/// not cached (each window is read from disk by a worker) runs beside 4 KiB requests on the
/// same, single loop, and those stay fast.
@Suite("Engine: a cold read does not delay other requests", .serialized)
struct ColdReadIsolationTests {
    @Test func coldGigabyteBesideSmallRequests() throws {
        let harness = try EngineHarness(loops: 1)
        let writer = try harness.store.makeWriter()
        var chunk = pseudoRandomBytes(count: 1 << 20, seed: 99)
        for index in 0..<1024 {
            withUnsafeBytes(of: UInt64(index)) { chunk.replaceSubrange(0..<8, with: $0) }
            try chunk.withUnsafeBytes { try writer.write($0) }
        }
        let big = try writer.commit()
        let small = try harness.store.put(pseudoRandomBytes(count: 4096, seed: 1))
        func measure(attempt: Int) throws -> (p99: Double, bound: Double) {
            // Committing already drops the new blob's pages; make sure of it for the whole file.
            if let blob = try harness.store.open(big) {
                _ = posix_fadvise(blob.descriptor.rawValue, 0, 0, POSIX_FADV_DONTNEED)
            }

            // The same small requests with no cold stream beside them: what this machine gives at
            // the moment (two cores shared with the other suites), to judge the cold run against.
            let client = try harness.client()
            var baseline: [Double] = []
            for _ in 0..<400 {
                let start = monotonicSeconds()
                try client.send("GET /blobs/\(small) HTTP/1.1\r\nHost: x\r\n\r\n")
                let reply = try client.readReply()
                baseline.append(monotonicSeconds() - start)
                #expect(reply.status == 200 && reply.body.count == 4096)
                usleep(2000)
            }
            baseline.sort()
            let baselineP99 = baseline[baseline.count * 99 / 100]

            let reader = try harness.client()
            try reader.send("GET /blobs/\(big) HTTP/1.1\r\nHost: x\r\n\r\n")
            let finished = Atomic(false)
            let streamed = Atomic(0)
            let socket = reader.socket
            let thread = SystemThread(name: "cold-reader") {
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                var total = 0
                while total < (1 << 30) + 200 {
                    let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    total += count
                    // About 300 MiB/s: the point is the disk reads of a cold blob, and a reader
                    // copying at memory speed would take one of the two cores from the loop.
                    usleep(3000)
                }
                streamed.store(total, ordering: .relaxed)
                finished.store(true, ordering: .releasing)
            }

            var latencies: [Double] = []
            while !finished.load(ordering: .acquiring), latencies.count < 20_000 {
                let start = monotonicSeconds()
                try client.send("GET /blobs/\(small) HTTP/1.1\r\nHost: x\r\n\r\n")
                let reply = try client.readReply()
                latencies.append(monotonicSeconds() - start)
                #expect(reply.status == 200 && reply.body.count == 4096)
                usleep(2000)
            }
            thread.join()
            #expect(streamed.load(ordering: .relaxed) > 1 << 30, "the whole blob arrived")
            latencies.sort()
            let median = latencies[latencies.count / 2]
            let p99 = latencies[latencies.count * 99 / 100]
            print("attempt \(attempt): cold 1 GiB beside 4 KiB: \(latencies.count) requests, median \(median * 1000) ms, p99 \(p99 * 1000) ms, max \(latencies.last! * 1000) ms; alone: p99 \(baselineP99 * 1000) ms")
            #expect(latencies.count >= 20, "small requests ran while the cold blob streamed")
            // Measured alone: with windows read by workers, p99 1.5 ms and max 5 ms (alone 1 ms);
            // with the loop doing the cold sendfile itself, p99 10 ms and max 270 ms. Beside the
            // other suites, scheduling delays on two cores reach 10-25 ms either way, so the bound
            // is relative to the same requests without the cold stream, measured just before. The
            // maximum is printed, not checked: one scheduling delay reaches it either way.
            let bound = max(0.006, 3 * baselineP99)
            return (p99, bound)
        }

        // One measurement can meet a burst of the other suites on the two cores; a loop that
        // really waits for the disk misses the bound every time, so three tries are allowed.
        var results: [(p99: Double, bound: Double)] = []
        for attempt in 1...3 {
            let result = try measure(attempt: attempt)
            results.append(result)
            if result.p99 < result.bound { break }
        }
        #expect(results.contains { $0.p99 < $0.bound },
                "4 KiB requests stayed fast: p99 against its bound (3 × p99 alone), ms: \(results.map { "\($0.p99 * 1000) / \($0.bound * 1000)" })")
    }
}
