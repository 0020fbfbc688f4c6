import BlobStore

/// The mirror in a cluster: what a client's miss asks of the peers, and how a peer's request
/// is answered.
extension Mirror {
    /// `target` reached through the peers ranked above us for `key` (a digest, or
    /// `ns/name:tag` for a tag), then its upstream; `target` itself when we own the key or
    /// have no peers.
    func routed(_ target: UpstreamTarget, key: RendezvousKey) -> UpstreamTarget {
        guard let peers else { return target }
        let candidates = peers.candidates(for: key)
        guard !candidates.isEmpty else { return target }
        let namespace = target.namespace == UpstreamDirectory.defaultNamespace ? nil : target.namespace
        return target.replacing(upstream: PeerRoutedUpstream(router: peers, candidates: candidates, upstream: target.upstream, namespace: namespace))
    }

    /// The key a tag is ranked by: one owner per tag in the cluster revalidates it upstream.
    static func tagKey(_ tag: Tag, _ target: UpstreamTarget) -> RendezvousKey {
        RendezvousKey("\(target.namespace)/\(target.repository):\(tag.value)")
    }

    /// A blob answer (`response` sends `digest`, stored or growing) to a member's GET, within
    /// the fan-out: sent, counted until it ends; or a redirect to a peer we served it to; or
    /// 503 when there is none yet.
    static func peerAnswer(
        _ response: Response, digest: Digest, to requester: SocketAddress, _ peers: PeerRouter, target: UpstreamTarget
    ) -> Response {
        switch peers.admit(digest, requester: requester) {
        case .serve:
            var counted = response
            counted.whenEnded = { peers.sendEnded(digest, requester: requester) }
            return counted
        case .redirect(let peer):
            var location = "http://\(peer)/v2/\(target.repository)/blobs/\(digest)"
            if target.namespace != UpstreamDirectory.defaultNamespace { location += "?ns=\(target.namespace)" }
            return Response(status: 307, headers: [("Location", location)])
        case .busy:
            return .oci(.tooManyRequests, status: 503, detail: "this node sends \(digest) to as many peers as it may", headers: [("Retry-After", "1")])
        }
    }
}
