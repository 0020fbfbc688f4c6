import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

@Suite("Engine: serving blobs over real sockets")
struct EngineBasicsTests {
    @Test func getHeadAndRanges() throws {
        let harness = try EngineHarness()
        let bytes = pseudoRandomBytes(count: 2048, seed: 7)
        let digest = try harness.store.put(bytes)
        let client = try harness.client()

        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        let full = try client.readReply()
        #expect(full.status == 200)
        #expect(full.body == bytes)
        #expect(full.header("ETag") == "\"\(digest)\"")
        #expect(full.header("Docker-Content-Digest") == digest.description)
        #expect(full.header("Accept-Ranges") == "bytes")
        #expect(full.header("Date") != nil)

        try client.send("HEAD /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try client.readReply(isHead: true)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "2048")

        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=500-1499\r\n\r\n")
        let range = try client.readReply()
        #expect(range.status == 206)
        #expect(range.body == Array(bytes[500...1499]))
        #expect(range.header("Content-Range") == "bytes 500-1499/2048")

        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=5000-10000\r\n\r\n")
        let unsatisfiable = try client.readReply()
        #expect(unsatisfiable.status == 416)
        #expect(unsatisfiable.header("Content-Range") == "bytes */2048")

        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"\(digest)\"\r\n\r\n")
        #expect(try client.readReply().status == 304)

        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9,100-109\r\n\r\n")
        let multi = try client.readReply()
        #expect(multi.status == 206)
        #expect(multi.header("Content-Type")?.hasPrefix("multipart/byteranges; boundary=") == true)
        #expect(multi.text.contains("Content-Range: bytes 100-109/2048"))
    }

    @Test func missingBlobIs404() throws {
        let harness = try EngineHarness()
        let client = try harness.client()
        let absent = StreamingHasher.digest(of: Array("absent".utf8))
        try client.send("GET /blobs/\(absent) HTTP/1.1\r\nHost: x\r\n\r\n")
        let reply = try client.readReply()
        #expect(reply.status == 404)
        #expect(reply.text.contains("BLOB_UNKNOWN"))
    }

    @Test func largeBlobIsSentWhole() throws {
        let harness = try EngineHarness()
        let bytes = pseudoRandomBytes(count: 9 << 20, seed: 3)
        let digest = try harness.store.put(bytes)
        let client = try harness.client()
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        let reply = try client.readReply()
        #expect(reply.status == 200)
        #expect(reply.body.count == bytes.count)
        #expect(reply.body == bytes)
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=-100000\r\n\r\n")
        let tail = try client.readReply()
        #expect(tail.body == Array(bytes.suffix(100_000)))
    }

    @Test func uploadsWithLengthChunkedAndExpectContinue() throws {
        let harness = try EngineHarness()
        let bytes = pseudoRandomBytes(count: 300_000, seed: 11)
        let digest = StreamingHasher.digest(of: bytes)
        let client = try harness.client()
        try client.send(Array("PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8) + bytes)
        #expect(try client.readReply().status == 201)
        #expect(harness.store.contains(digest))

        let second = pseudoRandomBytes(count: 70_000, seed: 12)
        let secondDigest = StreamingHasher.digest(of: second)
        var chunked = Array("PUT /blobs/\(secondDigest) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for piece in stride(from: 0, to: second.count, by: 30_000) {
            let slice = second[piece..<min(piece + 30_000, second.count)]
            chunked += Array(String(slice.count, radix: 16).utf8) + [13, 10] + slice + [13, 10]
        }
        chunked += Array("0\r\n\r\nGET /blobs/\(secondDigest) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        try client.send(chunked)
        #expect(try client.readReply().status == 201)
        #expect(try client.readReply().body == second)

        let third = pseudoRandomBytes(count: 5000, seed: 13)
        let thirdDigest = StreamingHasher.digest(of: third)
        try client.send("PUT /blobs/\(thirdDigest) HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
        #expect(try client.readReply().status == 100)
        try client.send(third)
        #expect(try client.readReply().status == 201)
    }

    @Test func wrongDigestStoresNothing() throws {
        let harness = try EngineHarness()
        let claimed = StreamingHasher.digest(of: Array("something else".utf8))
        let client = try harness.client()
        try client.send("PUT /blobs/\(claimed) HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try client.readReply().status == 400)
        #expect(!harness.store.contains(claimed))
    }

    @Test func clientsHangingUpMidResponseLeaveTheServerServing() throws {
        let harness = try EngineHarness(loops: 1)
        let bytes = pseudoRandomBytes(count: 8 << 20, seed: 21)
        let digest = try harness.store.put(bytes)
        for _ in 0..<5 {
            let quitter = try harness.client()
            try quitter.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
            var some = [UInt8](repeating: 0, count: 1000)
            _ = some.withUnsafeMutableBytes { recv(quitter.socket, $0.baseAddress, $0.count, 0) }
            // A reset rather than a FIN: the server's next write fails with EPIPE/ECONNRESET.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(quitter.socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        usleep(100_000)
        let client = try harness.client()
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n")
        #expect(try client.readReply().body == Array(bytes[0..<100]))
    }

    @Test func requestTimesStartWhenTheRequestArrivesNotWhenTheLoopLastWoke() throws {
        let harness = try EngineHarness(loops: 1)
        let digest = try harness.store.put(pseudoRandomBytes(count: 100, seed: 8))
        let client = try harness.client()
        usleep(600_000)  // the loop sleeps in epoll_wait meanwhile
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readReply().status == 200)
        usleep(50_000)
        let latency = harness.server.metrics.latency
        #expect(latency.counts.reduce(0, +) == 1)
        #expect(latency.sum < 0.1, "a 100-byte hit took \(latency.sum) s by the metrics")
    }

    @Test func fiftyPipelinedRequests() throws {
        let harness = try EngineHarness()
        let bytes = pseudoRandomBytes(count: 4096, seed: 5)
        let digest = try harness.store.put(bytes)
        let client = try harness.client()
        try client.send(String(repeating: "GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n", count: 50))
        for _ in 0..<50 {
            let reply = try client.readReply()
            #expect(reply.status == 200)
            #expect(reply.body == bytes)
        }
    }

    @Test func slowBlockingWorkDoesNotHoldOtherConnections() throws {
        let harness = try EngineHarness(loops: 1)
        let digest = try harness.store.put(pseudoRandomBytes(count: 4096, seed: 1))
        let slow = try harness.client()
        try slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        let fast = try harness.client()
        let start = monotonicSeconds()
        try fast.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try fast.readReply().status == 200)
        #expect(monotonicSeconds() - start < 0.25)
        #expect(try slow.readReply().status == 200)
    }

    @Test func slowClientsAreTimedOut() throws {
        let harness = try EngineHarness(loops: 1) { limits in
            limits.headerTimeoutSeconds = 0.3
            limits.idleTimeoutSeconds = 0.3
        }
        let partial = try harness.client()
        try partial.send("GET /blobs/x HTTP/1.1\r\nHo")
        let reply = try partial.readReply()
        #expect(reply.status == 408)
        #expect(partial.readsEOF())
        let idle = try harness.client()
        #expect(idle.readsEOF())
    }

    @Test func aStalledBodyIsAbandonedAfterTheBodyTimeout() throws {
        let harness = try EngineHarness(loops: 1) { limits in limits.bodyTimeoutSeconds = 0.3 }
        let bytes = pseudoRandomBytes(count: 1000, seed: 31)
        let digest = StreamingHasher.digest(of: bytes)
        let client = try harness.client()
        try client.send(Array("PUT /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".utf8) + bytes[0..<10])
        #expect(client.readsEOF(), "the server closed the stalled upload")
        #expect(!harness.store.contains(digest))
        #expect(directoryEntries(harness.directory.data + "/tmp").isEmpty, "no temporary left behind")
    }

    @Test func malformedRequestsGet400AndClose() throws {
        let harness = try EngineHarness()
        let client = try harness.client()
        try client.send("GET /blobs/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(try client.readReply().status == 400)
        #expect(client.readsEOF())
    }
}
