/// The few names requests are counted and logged under: bounded, so metrics stay bounded.
public enum RouteLabel: String, Sendable, CaseIterable {
    case base, blob, uploads, upload, manifest, tags, referrers, casBlob = "cas_blob"
    case metrics, healthz, readyz, unknown

    /// The position in `allCases`, without building that array (it runs per request).
    var ordinal: Int {
        switch self {
        case .base: 0
        case .blob: 1
        case .uploads: 2
        case .upload: 3
        case .manifest: 4
        case .tags: 5
        case .referrers: 6
        case .casBlob: 7
        case .metrics: 8
        case .healthz: 9
        case .readyz: 10
        case .unknown: 11
        }
    }
}
