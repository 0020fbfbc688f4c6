import BlobStore
import Glibc
import Testing
import TestSupport
@testable import BlobServer

/// Load never turns into memory: past the buffer pool, connections wait for a buffer; past the
/// connection cap, they wait in the kernel's backlog. Both are served once room frees.
@Suite("Engine: limits from the memory budget")
struct EngineLimitsTests {
    @Test func connectionsWaitForABufferThenAreServed() throws {
        let harness = try EngineHarness(loops: 1) { limits in limits.buffersPerLoop = 2 }
        let digest = try harness.store.put(pseudoRandomBytes(count: 100, seed: 4))
        // Two clients hold the two buffers with half-sent heads.
        let holders = try (0..<2).map { _ in try harness.client() }
        for holder in holders { try holder.send("GET /blobs/\(digest) HTTP/1.1\r\nHost") }
        usleep(100_000)
        let waiter = try harness.client()
        try waiter.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        var ready = pollfd(fd: waiter.socket, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 300) == 0, "no buffer, so no answer yet")
        try holders[0].send(": x\r\n\r\n")
        #expect(try holders[0].readReply().status == 200)
        #expect(try waiter.readReply().status == 200)
        try holders[1].send(": x\r\n\r\n")
        #expect(try holders[1].readReply().status == 200)
    }

    @Test func connectionsPastTheCapWaitInTheBacklog() throws {
        let harness = try EngineHarness(loops: 1) { limits in limits.connectionsPerLoop = 2 }
        let digest = try harness.store.put(pseudoRandomBytes(count: 100, seed: 5))
        let first = try harness.client()
        let second = try harness.client()
        for client in [first, second] {
            try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readReply().status == 200)
        }
        let third = try harness.client()  // the kernel completes the handshake; we do not accept
        try third.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\r\n")
        var ready = pollfd(fd: third.socket, events: Int16(POLLIN), revents: 0)
        #expect(poll(&ready, 1, 300) == 0, "past the cap, the connection waits unaccepted")
        try first.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try first.readReply().status == 200)
        #expect(try third.readReply().status == 200)
    }

    @Test func oversizedHeadsUseALargeBufferOrGet431() throws {
        let harness = try EngineHarness(loops: 1)
        let digest = try harness.store.put(pseudoRandomBytes(count: 100, seed: 6))
        let client = try harness.client()
        let filler = (0..<40).map { "X-Filler-\($0): \(String(repeating: "a", count: 1000))\r\n" }.joined()
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\(filler)\r\n")
        #expect(try client.readReply().status == 200, "a 40 KiB head fits a large buffer")
        let huge = (0..<70).map { "X-Filler-\($0): \(String(repeating: "a", count: 1000))\r\n" }.joined()
        try client.send("GET /blobs/\(digest) HTTP/1.1\r\nHost: x\r\n\(huge)\r\n")
        #expect(try client.readReply().status == 431)
    }
}
