/// The few names requests are counted and logged under: bounded, so metrics stay bounded.
public enum RouteLabel: String, Sendable, CaseIterable {
    case base, blob, uploads, upload, manifest, tags, referrers, casBlob = "cas_blob"
    case metrics, healthz, readyz, unknown
}
