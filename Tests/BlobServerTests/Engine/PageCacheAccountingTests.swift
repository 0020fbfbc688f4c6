import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

/// The store's page-cache estimate covers the pages of responses still being sent. Counted only
/// when a response ends, every large download in flight would hold its blob's pages outside the
/// budget: concurrency × blob size, the memory of a mirror that balloons.
@Suite("Engine: page-cache accounting of responses in flight")
struct PageCacheAccountingTests {
    @Test func theBytesOfAResponseStillBeingSentCountTowardTheEstimate() throws {
        let harness = try EngineHarness(loops: 1)
        let size = 16 << 20
        let digest = try harness.store.put(pseudoRandomBytes(count: size, seed: 7))
        #expect(harness.store.stats().residentBytesEstimate == 0)

        let client = try harness.client()
        // A small receive buffer, so that the server cannot put the whole blob on the socket and
        // end the response while the client does not read.
        var receiveBuffer: Int32 = 64 << 10
        setsockopt(client.socket, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        // Read a little, then stop: the server fills the socket buffers and waits.
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var received = 0
        var headLength = 0
        while received < 1 << 20 {
            let count = buffer.withUnsafeMutableBytes { recv(client.socket, $0.baseAddress, $0.count, 0) }
            try #require(count > 0)
            if received == 0 {
                let end = buffer[..<count].firstRange(of: Array("\r\n\r\n".utf8))
                try #require(end != nil && String(decoding: buffer[..<12], as: UTF8.self) == "HTTP/1.1 200")
                headLength = end!.upperBound
            }
            received += count
        }
        var estimate: UInt64 = 0
        for _ in 0..<500 where estimate == 0 {
            estimate = harness.store.stats().residentBytesEstimate
            if estimate == 0 { usleep(10_000) }
        }
        #expect(estimate >= UInt64(received - headLength), "\(received - headLength) body bytes received, \(estimate) counted while the response is in flight")
        #expect(estimate < UInt64(size), "the whole blob counted before it was sent")

        // The rest, and the count stops at the blob's size: nothing is counted twice.
        while received < headLength + size {
            let count = buffer.withUnsafeMutableBytes { recv(client.socket, $0.baseAddress, $0.count, 0) }
            try #require(count > 0)
            received += count
        }
        usleep(100_000)
        #expect(harness.store.stats().residentBytesEstimate == UInt64(size))
    }
}
