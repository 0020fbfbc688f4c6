import BlobStore

/// Requests for an upstream: which routes go through the mirror, and what a request whose
/// `ns` has no upstream gets (404, so containerd falls back to its next host).
extension RegistryHandler {
    /// The action for a pull that the mirror answers; nil when the local registry answers.
    /// Tags lists, referrers and everything without an upstream stay local.
    func mirrored(_ route: Route, _ head: HTTPRequestHead, namespace: String?, _ mirror: Mirror) -> HandlerAction? {
        guard head.method == .get || head.method == .head else { return nil }
        let repository: RepositoryName
        switch route {
        case .blob(let name, _), .manifest(let name, _): repository = name
        default: return nil
        }
        let target: UpstreamTarget
        switch mirror.directory.choose(namespace: namespace, repository: repository) {
        case .local: return nil
        case .unmapped(let registry):
            return .respond(.oci(.nameUnknown, detail: "this mirror has no upstream for \(registry)"))
        case .upstream(let chosen): target = chosen
        }
        switch route {
        case .blob(_, let digest):
            let counters = mirror.counters
            let isHead = head.method == .head
            return serveBlob(digest, miss: { mirror.missingBlob(digest, from: target, isHead: isHead) }) {
                counters.hit(.blob)
            }
        case .manifest(_, let reference):
            let fromMirror = mirror.manifest(reference, from: target, head: head)
            guard mirror.allowsPush else { return fromMirror }
            // Pushes are on: what was pushed here wins over the upstream.
            return .blocking { [self] in
                guard case .found(let answer)? = try? storedManifest(reference, in: repository) else { return fromMirror }
                return answer
            }
        default:
            return nil
        }
    }
}
