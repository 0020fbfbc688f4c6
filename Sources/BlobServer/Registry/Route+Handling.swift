/// What each route accepts: its methods, its metrics label, and what access a method needs.
extension Route {
    /// The name requests of this route are counted under.
    var label: RouteLabel {
        switch self {
        case .base: .base
        case .blob: .blob
        case .uploads: .uploads
        case .upload: .upload
        case .manifest: .manifest
        case .tags: .tags
        case .referrers: .referrers
        case .casBlob: .casBlob
        case .metrics: .metrics
        case .healthz: .healthz
        case .readyz: .readyz
        }
    }

    /// The methods the route answers; others get 405 with these in `Allow`.
    var allowedMethods: [HTTPMethod] {
        switch self {
        case .base, .tags, .referrers, .metrics, .healthz, .readyz: [.get, .head]
        case .blob: [.get, .head, .delete]
        case .uploads: [.post]
        case .upload: [.get, .patch, .put, .delete]
        case .manifest, .casBlob: [.get, .head, .put, .delete]
        }
    }

    /// What `method` on this route needs from the access policy. Every upload-session request
    /// is part of a push, status included.
    func requirement(for method: HTTPMethod) -> AccessPolicy.Requirement {
        switch self {
        case .metrics, .healthz, .readyz: .open
        case .base: .apiCheck
        case .uploads, .upload: .push
        case .tags, .referrers: .pull
        case .blob, .manifest, .casBlob: method == .get || method == .head ? .pull : .push
        }
    }
}
