extension ServerProcess {
    /// One sample of `/metrics`: the series `name` with exactly `labels` (as the page writes
    /// them, `kind="blob"`), or nil when the page has no such series.
    func metric(_ name: String, labels: String = "") throws -> Double? {
        let reply = try request("GET", "/metrics")
        guard reply.status == 200 else { throw EndToEndFailure("GET /metrics answered \(reply.status)") }
        let series = labels.isEmpty ? "\(name) " : "\(name){\(labels)} "
        guard let line = reply.text.split(separator: "\n").first(where: { $0.hasPrefix(series) }) else { return nil }
        return Double(line.dropFirst(series.count))
    }
}
