/// The operations endpoints: `/metrics`, and `/readyz` (`/healthz` needs nothing: answering is
/// the proof of life).
extension RegistryHandler {
    /// Rendering reads /proc, so it runs on a worker.
    func metricsPage() -> HandlerAction {
        .blocking { [self] in
            let text = MetricsPage.render(
                traffic: metrics.totals, latency: metrics.latency, store: store.stats(),
                uploadSessions: uploads.count, memory: .current(), mirror: mirror?.counters.snapshot,
                upstream: mirror?.upstreamCounters?.snapshot,
                peers: mirror?.peers.map { ($0.membership.metrics, $0.counters.snapshot) })
            return .respond(Response(status: 200, body: .bytes(Array(text.utf8), contentType: MetricsPage.contentType)))
        }
    }

    /// Ready once the store is open (the handler exists only then) and the data directory took
    /// writes at the last probe.
    func readiness() -> HandlerAction {
        guard isWritable else {
            return .respond(Response(
                status: 503, body: .bytes(Array("not ready: the data directory is not writable\n".utf8), contentType: "text/plain")))
        }
        return .respond(Response(status: 200, body: .bytes(Array("ready\n".utf8), contentType: "text/plain")))
    }
}
