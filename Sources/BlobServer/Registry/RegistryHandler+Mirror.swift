import BlobStore

/// Requests for an upstream: which routes go through the mirror, and what a request whose
/// `ns` has no upstream gets (404, so containerd falls back to its next host).
extension RegistryHandler {
    /// The action for a pull that the mirror answers; nil when the local registry answers.
    /// Tags lists, referrers and everything without an upstream stay local. A client's miss
    /// asks the peers first; a member's request (`peer`) goes to the upstream only.
    func mirrored(_ route: Route, _ head: HTTPRequestHead, namespace: String?, _ mirror: Mirror, peer: SocketAddress?) -> HandlerAction? {
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
            guard let peer, !isHead, let peers = mirror.peers else {
                let routedTarget = peer == nil ? mirror.routed(target, key: RendezvousKey(digest: digest)) : target
                return serveBlob(digest, miss: { mirror.missingBlob(digest, from: routedTarget, isHead: isHead) }) {
                    counters.hit(.blob)
                    return nil
                }
            }
            // A member's GET: never passed on to another peer, and sent within the fan-out.
            return serveBlob(digest, miss: { mirror.missingBlob(digest, from: target, isHead: false, peer: peer) }) {
                counters.hit(.blob)
                let plain = Response(status: 200, body: .blob(digest, contentType: Self.blobContentType, isManifest: false))
                return Mirror.peerAnswer(plain, digest: digest, to: peer, peers, target: target)
            }
        case .manifest(_, let reference):
            var routedTarget = target
            if peer == nil {
                switch reference {
                case .digest(let digest): routedTarget = mirror.routed(target, key: RendezvousKey(digest: digest))
                case .tag(let tag): routedTarget = mirror.routed(target, key: Mirror.tagKey(tag, target))
                }
            }
            let fromMirror = mirror.manifest(reference, from: routedTarget, head: head)
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

    /// Who sent a request marked as a peer's (`PeerRequestMark`), when this node has peers;
    /// nil for a client's request.
    func peerRequester(_ request: RequestContext) -> PeerRouter.Requester? {
        guard let peers = mirror?.peers, let mark = request.head.headers.value("blobcache-peer") else { return nil }
        return peers.requester(mark: mark, from: request.remoteAddress)
    }
}
