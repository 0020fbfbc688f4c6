import BlobStore
import TestSupport
import Testing
@testable import BlobServer

@Suite struct RegistryOperations {
    @Test func healthzAndReadyzAnswerPlainText() throws {
        let fixture = try RegistryFixture()
        let health = fixture.send(.get, "/healthz")
        #expect(health.status == 200 && health.bodyText == "ok\n" && health.contentType == "text/plain" && health.route == .healthz)
        let ready = fixture.send(.get, "/readyz")
        #expect(ready.status == 200 && ready.route == .readyz)
        #expect(fixture.send(.head, "/readyz").status == 200)
    }

    @Test func theWritabilityProbeSeesAMissingDirectory() throws {
        let directory = StoreTestDirectory("probe")
        #expect(WritabilityProbe.isWritable(directory.path))
        #expect(!WritabilityProbe.isWritable(directory.path + "/missing"))
    }

    @Test func theMetricsPageHasEveryFamily() throws {
        let fixture = try RegistryFixture()
        let shard = fixture.metrics.shards[0]
        shard.connectionOpened()
        shard.requestFinished(route: .blob, status: 200, bytesSent: 1234, nanoseconds: 2_000_000)
        shard.requestFinished(route: .manifest, status: 404, bytesSent: 10, nanoseconds: 50_000)
        shard.bytesReceived(99)
        try fixture.store.put([1, 2, 3])
        #expect(fixture.send(.post, "/v2/app/blobs/uploads/").status == 202)

        let answer = fixture.send(.get, "/metrics")
        #expect(answer.status == 200 && answer.route == .metrics)
        #expect(answer.contentType == "text/plain; version=0.0.4")
        let text = answer.bodyText
        for family in [
            "blobcache_http_requests_total", "blobcache_http_request_duration_seconds", "blobcache_http_response_bytes_total",
            "blobcache_http_request_bytes_total", "blobcache_connections_open", "blobcache_connections_accepted_total",
"blobcache_store_bytes", "blobcache_store_blobs",
            "blobcache_store_effective_cap_bytes", "blobcache_store_evictions_total", "blobcache_store_index_capacity",
            "blobcache_store_quarantined_total", "blobcache_store_page_cache_budget_bytes", "blobcache_store_reconciled",
            "blobcache_upload_sessions",
            "process_resident_memory_bytes", "blobcache_resident_memory_peak_bytes",
        ] {
            #expect(text.contains("# TYPE \(family) "), "\(family)")
        }
        #expect(text.contains(#"blobcache_http_requests_total{route="blob",status="200"} 1"#))
        #expect(text.contains(#"blobcache_http_requests_total{route="manifest",status="404"} 1"#))
        #expect(text.contains("blobcache_http_response_bytes_total 1244\n"))
        #expect(text.contains("blobcache_http_request_bytes_total 99\n"))
        #expect(text.contains("blobcache_http_request_duration_seconds_count 2\n"))
        #expect(text.contains("blobcache_connections_open 1\n"))
        #expect(text.contains("blobcache_store_blobs 1\n"))
        #expect(text.contains("blobcache_upload_sessions 1\n"))
    }

    @Test func processMemoryIsReadFromProcStatus() {
        let parsed = ProcessMemory(parsing: "Name:\tx\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\nThreads:\t3\n")
        #expect(parsed == ProcessMemory(residentBytes: 1 << 20, peakResidentBytes: 2 << 20))
        #expect(ProcessMemory(parsing: "VmRSS: lots\n") == ProcessMemory())
        let current = ProcessMemory.current()
        #expect((current.residentBytes ?? 0) > 0)
        #expect((current.peakResidentBytes ?? 0) >= (current.residentBytes ?? 0))
    }
}
