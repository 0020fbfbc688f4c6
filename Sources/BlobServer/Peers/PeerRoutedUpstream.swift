/// An upstream reached through peers first: a request goes to each candidate peer in turn (the
/// key's owner first), then to the real upstream. A peer answers from its cache or fills from
/// its own upstream; the request is marked so that it never asks a peer in turn.
///
/// A body that breaks while a peer sends it goes on from the next source with
/// `Range: bytes=N-`, so a client streaming the fill does not notice a peer dying. Bytes from
/// peers are verified like the upstream's: by the fill's writer, against the digest.
struct PeerRoutedUpstream: UpstreamFetching {
    let router: PeerRouter
    /// The peers to ask, best first (`PeerRouter.candidates(for:)`).
    let candidates: [SocketAddress]
    /// The real upstream, asked last.
    let upstream: any UpstreamFetching
    /// The `ns` the peers are asked for; nil for the default upstream.
    let namespace: String?

    func send(_ request: UpstreamRequest) throws(UpstreamError) -> UpstreamResponse {
        let response = PeerFailoverResponse(route: self, request: request)
        try response.start()
        return response
    }

    /// `request` as a peer gets it: marked, with the `ns` it was for.
    func peerRequest(_ request: UpstreamRequest) -> UpstreamRequest {
        var marked = request
        if let namespace { marked.path += (request.path.contains("?") ? "&" : "?") + "ns=\(namespace)" }
        marked.headers.append((PeerRequestMark.field, router.mark))
        return marked
    }
}

/// The answer of a `PeerRoutedUpstream`: the first source's head, and a body that fails over to
/// the next source when a peer's breaks. Not thread-safe, like any `UpstreamResponse`.
final class PeerFailoverResponse: UpstreamResponse, @unchecked Sendable {
    private let route: PeerRoutedUpstream
    private let request: UpstreamRequest
    private var remaining: ArraySlice<SocketAddress>
    private var current: (any UpstreamResponse)?
    /// The peer `current` comes from; nil for the upstream.
    private var currentPeer: SocketAddress?
    private var resumePoint: BodyResumePoint?
    private var delivered: UInt64 = 0
    /// Bytes of a 200 to drop: a source that ignored the Range resent from the start.
    private var toSkip: UInt64 = 0
    private(set) var status = 0
    private(set) var contentLength: UInt64?
    private var firstHead: (any UpstreamResponse)?
    /// The peers whose bytes this body holds: to blame when it does not verify.
    private var peersUsed: [SocketAddress] = []

    init(route: PeerRoutedUpstream, request: UpstreamRequest) {
        self.route = route
        self.request = request
        remaining = route.candidates[...]
    }

    /// Opens the first source that answers usefully: a peer's 200 (206 for a ranged request),
    /// or whatever the upstream says.
    func start() throws(UpstreamError) {
        let ranged = request.headers.contains { $0.name.lowercased() == "range" }
        let (response, peer) = try open(request) { status, _ in status == (ranged ? 206 : 200) }
        current = response
        currentPeer = peer
        firstHead = response
        status = response.status
        contentLength = response.contentLength
        if let peer { peersUsed.append(peer) }
        if request.method == .get {
            resumePoint = BodyResumePoint(status: response.status, contentRange: response.header("Content-Range"))
        }
    }

    func header(_ name: String) -> String? { firstHead?.header(name) }

    /// The body did not verify: every peer that sent some of it is passed over for long, and
    /// the fetch counts as failed. Returns whether any peer did.
    func blamePeers() -> Bool {
        guard !peersUsed.isEmpty else { return false }
        for peer in peersUsed { route.router.markLied(peer) }
        route.router.counters.fetch(.failed)
        return true
    }

    /// The body verified: when a peer sent its end, the fetch counts as completed.
    func confirmPeers() {
        if currentPeer != nil { route.router.counters.fetch(.completed) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(UpstreamError) -> Int {
        while let source = current {
            let count: Int
            do {
                count = try source.read(into: buffer)
            } catch {
                guard let peer = currentPeer else { throw error }
                source.abandon()
                route.router.markFailed(peer, "its body broke after \(delivered) bytes: \(error)")
                try failOver()
                continue
            }
            if count == 0 {
                if let peer = currentPeer { route.router.markWorked(peer) }
                return 0
            }
            if toSkip >= UInt64(count) {
                toSkip -= UInt64(count)
                continue
            }
            let skipped = Int(toSkip)
            toSkip = 0
            if skipped > 0, let base = buffer.baseAddress {
                (base + 0).copyMemory(from: base + skipped, byteCount: count - skipped)
            }
            delivered += UInt64(count - skipped)
            return count - skipped
        }
        throw .bodyBroken("the response was already ended")
    }

    func finish() {
        // A HEAD has no bytes to verify: a peer's answer to it is complete here.
        if let peer = currentPeer, request.method == .head {
            route.router.markWorked(peer)
            route.router.counters.fetch(.completed)
        }
        current?.finish()
        current = nil
    }

    func abandon() {
        current?.abandon()
        current = nil
    }

    /// Asks the next source for the rest of the body.
    private func failOver() throws(UpstreamError) {
        current = nil
        guard let point = resumePoint else { throw .bodyBroken("a peer's body broke and cannot be resumed") }
        let rest = point.rangeField(delivered: delivered)
        var resumed = request
        resumed.headers.removeAll { $0.name.lowercased() == "range" }
        resumed.headers.append(("Range", rest))
        let (response, peer) = try open(resumed) { status, contentRange in
            if case .reject = point.accept(status: status, contentRange: contentRange, delivered: delivered) { return false }
            return true
        }
        switch point.accept(status: response.status, contentRange: response.header("Content-Range"), delivered: delivered) {
        case .follows: toSkip = 0
        case .skip(let count): toSkip = count
        case .reject(let why):
            response.abandon()
            throw .bodyBroken("the upstream did not continue the body at byte \(delivered): \(why)")
        }
        current = response
        currentPeer = peer
        if let peer { peersUsed.append(peer) }
    }

    /// The first of the remaining peers whose answer `usable` takes, else the upstream's answer.
    /// A peer that cannot be reached or breaks the protocol backs off; one that answers
    /// otherwise (404, busy) is passed over without blame.
    private func open(
        _ request: UpstreamRequest, usable: (Int, String?) -> Bool
    ) throws(UpstreamError) -> (any UpstreamResponse, SocketAddress?) {
        while let peer = remaining.popFirst() {
            let response: any UpstreamResponse
            do {
                response = try route.router.client(for: peer).send(route.peerRequest(request))
            } catch {
                if case .unavailable = error {
                    route.router.passedOver(peer, "it answered: \(error)")
                } else {
                    route.router.markFailed(peer, error.description)
                }
                continue
            }
            if usable(response.status, response.header("Content-Range")) { return (response, peer) }
            response.abandon()
            route.router.passedOver(peer, "it answered \(response.status)")
        }
        return (try route.upstream.send(request), nil)
    }
}
