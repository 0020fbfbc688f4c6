import BlobStore
import Testing
import TestSupport

extension EndToEnd {
    /// Many clients asking the mirror at once for a layer it does not have yet cost one upstream
    /// GET, and every one of them gets the right bytes: 32 whole GETs and one `Range: bytes=N-`,
    /// all sent before any answer is read.
    @Suite("EndToEnd: concurrent cold pulls of one layer through the mirror", .serialized)
    struct MirrorConcurrentFillTests {
        @Test func thirtyTwoColdClientsAndARangeClientShareOneUpstreamGetAndAllGetTheRightBytes() throws {
            let directory = StoreTestDirectory("e2e-mirror-fill")
            let image = try OCIImageLayout.buildWithLargeLayer(in: directory.path, mebibytes: 48)
            let layer = try #require(try image.layerDigests().first)
            let bytes = try #require(OCIImageLayout.blob(layer, in: image.path))
            let registry = try DockerRegistry.start()
            try registry.push(image, as: "test/large:v1")
            let server = try ServerProcess(
                dataDirectory: directory.data, arguments: ["--upstream", registry.baseURL], logFile: directory.file("blobcache.log"))

            let path = "/v2/test/large/blobs/\(layer)"
            let rangeStart = 1 << 20
            let whole = "GET \(path) HTTP/1.1\r\nHost: \(server.authority)\r\nConnection: close\r\n\r\n"
            let ranged = "GET \(path) HTTP/1.1\r\nHost: \(server.authority)\r\nRange: bytes=\(rangeStart)-\r\nConnection: close\r\n\r\n"
            let outcomes = try SimultaneousDownloads.run(port: server.port, requests: Array(repeating: whole, count: 32) + [ranged])

            registry.stop()
            let upstreamGets = registry.requests("GET", path)
            #expect(upstreamGets.count == 1, "upstream GETs of the layer: \(upstreamGets)")
            for (index, outcome) in outcomes.prefix(32).enumerated() {
                #expect(outcome.head.status == 200, "client \(index): \(outcome.head.status)")
                #expect(outcome.isComplete, "client \(index) got \(outcome.bodyLength) of \(bytes.count) bytes")
                #expect(outcome.bodyDigest.description == layer, "client \(index) got other bytes")
            }
            let range = outcomes[32]
            #expect(range.head.status == 206)
            #expect(range.head.header("Content-Range") == "bytes \(rangeStart)-\(bytes.count - 1)/\(bytes.count)")
            #expect(range.isComplete, "the range client got \(range.bodyLength) of \(bytes.count - rangeStart) bytes")
            #expect(range.bodyDigest == Digest.of(Array(bytes[rangeStart...])), "the range client got other bytes")

            // All 33 found the store without the layer (they were cold), and one fill served them.
            // The last bytes go out once the fill committed; its count follows them.
            let deadline = monotonicSeconds() + 10
            while try server.metric("blobcache_mirror_fills_completed_total") != 1, monotonicSeconds() < deadline {
                pause(seconds: 0.05)
            }
            #expect(try server.metric("blobcache_mirror_misses_total", labels: #"kind="blob""#) == 33)
            #expect(try server.metric("blobcache_mirror_fills_completed_total") == 1)
            #expect(try server.metric("blobcache_mirror_digest_mismatches_total") == 0)
            #expect(Files.storedBlobs(in: directory.data).contains(layer))
            #expect(server.stop() == .exited(0))
        }
    }
}
