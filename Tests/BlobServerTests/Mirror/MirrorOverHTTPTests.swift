import BlobStore
import TestSupport
import Testing
@testable import BlobServer

/// The mirror with its real upstream client, against a small fake upstream over HTTP: one that
/// lies about a blob's bytes, and one that resets mid-body.
@Suite struct MirrorOverHTTPTests {
    func client(_ server: FakeHTTPServer) throws -> UpstreamClient {
        var settings = UpstreamClient.Configuration(baseURL: "http://127.0.0.1:\(server.port)", environment: [:])
        settings.retryBackoffSeconds = 0.01
        return try UpstreamClient(configuration: settings)
    }

    @Test("An upstream that serves wrong bytes over HTTP: the client is cut off, nothing is stored, the next request asks again")
    func lyingUpstream() throws {
        let claimed = pseudoRandomBytes(count: 1 << 20, seed: 61)
        let digest = StreamingHasher.digest(of: claimed)
        var altered = claimed
        altered[altered.count / 2] ^= 0xFF
        let lie = altered
        let server = try FakeHTTPServer { _ in FakeHTTPServer.Reply(body: lie) }
        defer { server.stop() }
        let harness = try MirrorHarness(client: try client(server))
        #expect(throws: (any Error).self) { try harness.request("GET", "/v2/lib/app/blobs/\(digest)") }
        #expect(!harness.store.contains(digest))
        #expect(harness.mirror.counters.snapshot.digestMismatches == 1)
        #expect(throws: (any Error).self) { try harness.request("GET", "/v2/lib/app/blobs/\(digest)") }
        #expect(server.requests.filter { $0.target.hasSuffix("/blobs/\(digest)") }.count == 2)
    }

    @Test("An upstream that resets mid-body: the fill resumes with Range and the blob is right")
    func resetMidBodyResumes() throws {
        let blob = pseudoRandomBytes(count: 3 << 20, seed: 62)
        let digest = StreamingHasher.digest(of: blob)
        let server = try FakeHTTPServer { request in
            guard let range = request.header("Range") else {
                return FakeHTTPServer.Reply(body: blob, bodyEnd: .reset(afterBytes: 1 << 20))
            }
            let start = Int(range.dropFirst("bytes=".count).prefix { $0 != "-" })!
            return FakeHTTPServer.Reply(
                status: 206, headers: [("Content-Range", "bytes \(start)-\(blob.count - 1)/\(blob.count)")], body: Array(blob[start...]))
        }
        defer { server.stop() }
        let harness = try MirrorHarness(client: try client(server))
        let reply = try harness.request("GET", "/v2/lib/app/blobs/\(digest)")
        #expect(reply.status == 200)
        #expect(reply.body == blob)
        #expect(harness.store.contains(digest))
        let ranges = server.requests.compactMap { $0.header("Range") }
        #expect(ranges.count == 1)
        #expect(ranges.first.map { $0.hasPrefix("bytes=") && $0 != "bytes=0-" } == true)
    }
}
