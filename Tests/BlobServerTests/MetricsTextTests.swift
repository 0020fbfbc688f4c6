import Testing
@testable import BlobServer

@Suite struct PrometheusExposition {
    @Test func familiesAndSamplesFollowTextFormat004() {
        var page = PrometheusText()
        page.family("blobcache_requests_total", .counter, help: "Requests by route and status.")
        page.sample("blobcache_requests_total", labels: ["route": "blob", "status": "200"], UInt64(12))
        page.sample("blobcache_requests_total", labels: ["route": "blob", "status": "404"], UInt64(1))
        page.family("blobcache_store_bytes", .gauge, help: "Bytes stored.")
        page.sample("blobcache_store_bytes", 1.5)
        #expect(page.text == """
            # HELP blobcache_requests_total Requests by route and status.
            # TYPE blobcache_requests_total counter
            blobcache_requests_total{route="blob",status="200"} 12
            blobcache_requests_total{route="blob",status="404"} 1
            # HELP blobcache_store_bytes Bytes stored.
            # TYPE blobcache_store_bytes gauge
            blobcache_store_bytes 1.5

            """)
    }

    @Test func labelValuesAreEscaped() {
        var page = PrometheusText()
        page.sample("m", labels: ["path": "a\"b\\c\nd"], 1.0)
        #expect(page.text == "m{path=\"a\\\"b\\\\c\\nd\"} 1\n")
    }

    @Test(arguments: [(0.0, "0"), (42.0, "42"), (0.25, "0.25"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN")])
    func valuesAreFormattedAsPrometheusReadsThem(value: Double, text: String) {
        #expect(PrometheusText.format(value) == text)
    }

    @Test func aHistogramRendersCumulativeBucketsSumAndCount() {
        let histogram = LatencyHistogram(bounds: [0.001, 0.01])
        histogram.observe(nanoseconds: 500_000)
        histogram.observe(nanoseconds: 1_000_000)
        histogram.observe(nanoseconds: 5_000_000)
        histogram.observe(nanoseconds: 2_000_000_000)
        var page = PrometheusText()
        page.family("latency_seconds", .histogram, help: "Latency.")
        page.histogram("latency_seconds", histogram.snapshot)
        #expect(page.text.contains("latency_seconds_bucket{le=\"0.001\"} 2\n"))
        #expect(page.text.contains("latency_seconds_bucket{le=\"0.01\"} 3\n"))
        #expect(page.text.contains("latency_seconds_bucket{le=\"+Inf\"} 4\n"))
        #expect(page.text.contains("latency_seconds_sum 2.0065\n"))
        #expect(page.text.contains("latency_seconds_count 4\n"))
    }
}

@Suite("Route labels")
struct RouteLabelTests {
    @Test func ordinalsArePositionsInAllCases() {
        for (position, label) in RouteLabel.allCases.enumerated() { #expect(label.ordinal == position) }
    }

    @Test func shardsCountByRouteAndStatus() {
        let metrics = ServerMetrics(loops: 2)
        metrics.shards[0].requestFinished(route: .blob, status: 200, bytesSent: 10, nanoseconds: 1000)
        metrics.shards[1].requestFinished(route: .blob, status: 200, bytesSent: 5, nanoseconds: 1000)
        metrics.shards[1].requestFinished(route: .unknown, status: 404, bytesSent: 0, nanoseconds: 1000)
        let totals = metrics.totals
        #expect(totals.requests[ServerMetrics.RequestKey(route: .blob, status: 200)] == 2)
        #expect(totals.requests[ServerMetrics.RequestKey(route: .unknown, status: 404)] == 1)
        #expect(totals.requests.count == 2)
        #expect(totals.bytesSent == 15)
    }
}
