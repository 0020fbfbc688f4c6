import BlobStore
import Synchronization
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
        #expect(MirrorFillTests.eventually { harness.store.contains(digest) })
        let ranges = server.requests.compactMap { $0.header("Range") }
        #expect(ranges.count == 1)
        #expect(ranges.first.map { $0.hasPrefix("bytes=") && $0 != "bytes=0-" } == true)
    }
}

/// A registry that wants a bearer token and sends blob downloads to a CDN on another host, as
/// Docker Hub does: the mirror's fill must take the challenge, fetch the token, retry, follow
/// the redirect, and never show the CDN the registry's `Authorization`.
@Suite struct MirrorTokenAuthTests {
    @Test("A fill through a token challenge and a redirect to another host")
    func challengeTokenAndRedirect() throws {
        let blob = pseudoRandomBytes(count: 200_000, seed: 63)
        let digest = StreamingHasher.digest(of: blob)
        let cdn = try FakeHTTPServer { request in
            request.target == "/cdn/blob?sig=a%2Fb&exp=1" ? FakeHTTPServer.Reply(body: blob) : FakeHTTPServer.Reply(status: 403)
        }
        defer { cdn.stop() }
        let registryPort = Mutex<UInt16>(0)
        let cdnPort = cdn.port
        let registry = try FakeHTTPServer { request in
            let port = registryPort.withLock { $0 }
            if request.target.hasPrefix("/token?") {
                return .text(#"{"token":"t-1","expires_in":300}"#, headers: [("Content-Type", "application/json")])
            }
            guard request.header("Authorization") == "Bearer t-1" else {
                let challenge = #"Bearer realm="http://127.0.0.1:\#(port)/token",service="fake",scope="repository:lib/app:pull""#
                return FakeHTTPServer.Reply(status: 401, headers: [("WWW-Authenticate", challenge)])
            }
            // The CDN is "another host": localhost, where the registry is 127.0.0.1.
            return FakeHTTPServer.Reply(status: 307, headers: [("Location", "http://localhost:\(cdnPort)/cdn/blob?sig=a%2Fb&exp=1")])
        }
        defer { registry.stop() }
        registryPort.withLock { $0 = registry.port }
        let counters = UpstreamCounters()
        let client = try UpstreamClient(
            configuration: UpstreamClient.Configuration(baseURL: "http://127.0.0.1:\(registry.port)", environment: [:]), counters: counters)
        let harness = try MirrorHarness(client: client)
        let reply = try harness.request("GET", "/v2/lib/app/blobs/\(digest)")
        #expect(reply.status == 200)
        #expect(reply.body == blob)
        // The last byte goes out once the digest matched; the commit follows it.
        #expect(MirrorFillTests.eventually { harness.store.contains(digest) })
        #expect(registry.requests.filter { $0.target.hasPrefix("/token?") }.count == 1)
        #expect(registry.requests.last?.header("Authorization") == "Bearer t-1")
        #expect(cdn.requests.count == 1)
        #expect(cdn.requests.first?.header("Authorization") == nil)
        #expect(counters.snapshot.tokenFetches == 1)
        #expect(counters.snapshot.redirects == 1)
    }
}
