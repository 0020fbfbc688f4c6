import BlobStore

/// The `/metrics` page (Prometheus text format 0.0.4): HTTP traffic, connections, the store,
/// upload sessions and the process's memory. Pure: the caller gathers the figures (reading
/// /proc is blocking).
enum MetricsPage {
    static let contentType = "text/plain; version=0.0.4"

    static func render(
        traffic: ServerMetrics.Counters, latency: LatencyHistogram.Snapshot, store: StoreStats,
        uploadSessions: Int, memory: ProcessMemory, mirror: MirrorCounters.Snapshot? = nil,
        upstream: UpstreamCounters.Snapshot? = nil, peers: (membership: PeerMembershipMetrics, traffic: PeerCounters.Snapshot)? = nil
    ) -> String {
        var page = PrometheusText()
        page.family("blobcache_http_requests_total", .counter, help: "HTTP requests answered, by route and status.")
        let requests = traffic.requests.sorted { ($0.key.route.rawValue, $0.key.status) < ($1.key.route.rawValue, $1.key.status) }
        for (key, count) in requests {
            page.sample("blobcache_http_requests_total", labels: ["route": key.route.rawValue, "status": String(key.status)], count)
        }
        page.family("blobcache_http_request_duration_seconds", .histogram, help: "Time from a request's head to its last response byte.")
        page.histogram("blobcache_http_request_duration_seconds", latency)
        page.single("blobcache_http_response_bytes_total", .counter, help: "Response body bytes sent.", traffic.bytesSent)
        page.single("blobcache_http_request_bytes_total", .counter, help: "Request body bytes received.", traffic.bytesReceived)
        page.single("blobcache_connections_open", .gauge, help: "Client connections open.", Double(traffic.open))
        page.single("blobcache_connections_accepted_total", .counter, help: "Client connections accepted.", traffic.accepted)

        page.single("blobcache_store_bytes", .gauge, help: "Bytes of blobs stored.", store.bytes)
        page.single("blobcache_store_blobs", .gauge, help: "Blobs stored.", UInt64(store.blobs))
        page.single("blobcache_store_effective_cap_bytes", .gauge, help: "The size cap in force (max_size lowered to keep min_free).", store.effectiveCap)
        page.single("blobcache_store_evictions_total", .counter, help: "Blobs evicted since start.", store.evictions)
        page.single("blobcache_store_index_capacity", .gauge, help: "Entries the index may hold.", UInt64(store.indexCapacity))
        page.single("blobcache_store_index_bytes", .gauge, help: "Bytes the index takes at its capacity.", store.indexBytes)
        page.single("blobcache_store_quarantined_total", .counter, help: "Blobs that failed a re-hash and were quarantined since start.", store.quarantined)
        page.single("blobcache_store_page_cache_budget_bytes", .gauge, help: "Page cache of store files allowed to stay resident.", store.pageCacheBudget)
        page.single("blobcache_store_page_cache_resident_bytes", .gauge, help: "Estimated page cache held by store files.", store.residentBytesEstimate)
        page.single("blobcache_store_pending_bytes", .gauge, help: "Bytes being written and not yet committed.", store.pendingBytes)
        page.single("blobcache_store_reconciled", .gauge, help: "1 once the start-up reconciliation with the data directory (stale temporaries deleted, index matched to the blob files) has finished.", UInt64(store.reconciled ? 1 : 0))
        page.single("blobcache_upload_sessions", .gauge, help: "OCI upload sessions open.", UInt64(uploadSessions))

        if let mirror { renderMirror(mirror, into: &page) }
        if let upstream { renderUpstream(upstream, into: &page) }
        if let peers { renderPeers(peers.membership, peers.traffic, into: &page) }

        if let resident = memory.residentBytes {
            page.single("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.", resident)
        }
        if let peak = memory.peakResidentBytes {
            page.single("blobcache_resident_memory_peak_bytes", .gauge, help: "Peak resident memory (VmHWM) in bytes.", peak)
        }
        return page.text
    }

    private static func renderMirror(_ mirror: MirrorCounters.Snapshot, into page: inout PrometheusText) {
        page.family("blobcache_mirror_hits_total", .counter, help: "Pull-through requests answered from the cache, by kind (a tag revalidated unchanged counts as a hit).")
        for kind in MirrorCounters.Kind.allCases {
            page.sample("blobcache_mirror_hits_total", labels: ["kind": kind.rawValue], mirror.hits[kind, default: 0])
        }
        page.family("blobcache_mirror_misses_total", .counter, help: "Pull-through requests that went to the upstream, by kind.")
        for kind in MirrorCounters.Kind.allCases {
            page.sample("blobcache_mirror_misses_total", labels: ["kind": kind.rawValue], mirror.misses[kind, default: 0])
        }
        page.single("blobcache_mirror_fills_in_flight", .gauge, help: "Blob fills from an upstream running now.", Double(mirror.fillsInFlight))
        page.single("blobcache_mirror_fill_waiters", .gauge, help: "Client requests joined to the fills running now.", Double(mirror.fillWaiters))
        page.single("blobcache_mirror_fills_completed_total", .counter, help: "Blob fills that verified and committed.", mirror.fillsCompleted)
        page.single("blobcache_mirror_fills_failed_total", .counter, help: "Blob fills that ended without a blob.", mirror.fillsFailed)
        page.single("blobcache_mirror_digest_mismatches_total", .counter, help: "Upstream bodies whose digest or length did not match: nothing was stored.", mirror.digestMismatches)
        page.single("blobcache_mirror_stale_serves_total", .counter, help: "Tags answered past their TTL because the upstream could not be asked.", mirror.staleServes)
    }

    private static func renderUpstream(_ upstream: UpstreamCounters.Snapshot, into page: inout PrometheusText) {
        page.family("blobcache_upstream_requests_total", .counter, help: "Requests to upstream registries, by the status that ended them.")
        for (status, count) in upstream.requestsByStatus.sorted(by: { $0.key < $1.key }) {
            page.sample("blobcache_upstream_requests_total", labels: ["status": String(status)], count)
        }
        page.single("blobcache_upstream_transport_failures_total", .counter, help: "Upstream connections or exchanges that failed below HTTP (connect, TLS, reset, timeout).", upstream.transportFailures)
        page.single("blobcache_upstream_bytes_total", .counter, help: "Body bytes received from upstream registries.", upstream.bodyBytesReceived)
        page.single("blobcache_upstream_token_fetches_total", .counter, help: "Bearer tokens fetched from upstream token endpoints.", upstream.tokenFetches)
        page.single("blobcache_upstream_retries_total", .counter, help: "Upstream requests retried (5xx, 429, resets).", upstream.retries)
        page.single("blobcache_upstream_resumes_total", .counter, help: "Upstream bodies resumed with Range after breaking.", upstream.resumes)
        page.single("blobcache_upstream_redirects_total", .counter, help: "Upstream redirects followed.", upstream.redirects)
    }

    private static func renderPeers(_ membership: PeerMembershipMetrics, _ traffic: PeerCounters.Snapshot, into page: inout PrometheusText) {
        page.single("blobcache_peer_members", .gauge, help: "Peers in the current membership, this node excluded.", UInt64(membership.memberCount))
        page.single("blobcache_peer_lookup_failures_total", .counter, help: "Peer DNS lookups that failed and kept the last membership.", membership.lookupFailures)
        page.family("blobcache_peer_dns_query_seconds", .histogram, help: "Time per DNS query of the peers' name (A and AAAA each count).")
        page.histogram("blobcache_peer_dns_query_seconds", membership.queryLatency)
        page.family("blobcache_peer_requests_total", .counter, help: "Requests from peers answered, by outcome.")
        for outcome in PeerCounters.RequestOutcome.allCases {
            page.sample("blobcache_peer_requests_total", labels: ["outcome": outcome.rawValue], traffic.requests[outcome, default: 0])
        }
        page.family("blobcache_peer_fetches_total", .counter, help: "Requests this node made to peers, by outcome (failed: passed over to the next source).")
        for outcome in PeerCounters.FetchOutcome.allCases {
            page.sample("blobcache_peer_fetches_total", labels: ["outcome": outcome.rawValue], traffic.fetches[outcome, default: 0])
        }
        page.single("blobcache_peer_sends_in_flight", .gauge, help: "Blob transfers to peers running now.", Double(traffic.sendsInFlight))
        page.single("blobcache_peer_sends_peak", .gauge, help: "The most concurrent transfers of one blob to peers so far.", UInt64(traffic.sendsPeak))
    }
}
