import BlobStore
import Synchronization

/// Answers every route: the OCI distribution API (blobs, uploads, manifests, tags, referrers),
/// the plain CAS API, and the operations endpoints, deciding for each request what the
/// connection does next (`HandlerAction`).
///
/// Threading: `handle` and `tick` run on event loop threads and never wait on the disk beyond
/// the store's index lookups; everything else happens in the `.blocking` work and body sinks
/// they return, on workers. Thread-safe: the state it shares is the store, the upload sessions
/// and the metadata directory, each thread-safe.
///
/// Ownership: the handler owns the upload sessions (and their temporary files) and the
/// registry's metadata directory under `<store.path>/registry` (see `RegistryMetadata`).
///
/// Answers common to every route: a method the server does not know is 501 UNSUPPORTED; a path
/// that is no route is 404 NAME_UNKNOWN; a method the route lacks is 405 UNSUPPORTED with
/// `Allow`; a malformed query is 400 UNSUPPORTED; an `ns`
/// that is not a registry host name is 400 NAME_INVALID, and a valid one is echoed in
/// `OCI-Namespace` on every answer; a missing credential is 401 (see `AccessPolicy`); server
/// failures are 500, or 507 when the disk stays full, with the code `UNKNOWN`. Route-specific
/// choices are documented on each route's extension.
public final class RegistryHandler: Sendable {
    let store: BlobStore
    let metrics: ServerMetrics
    let access: AccessPolicy
    let uploads: UploadSessions
    let metadata: RegistryMetadata
    /// The pull-through mirror, when upstreams are configured.
    let mirror: Mirror?
    /// The latest probe of the data directory, for `/readyz`.
    private let writable: Atomic<Bool>

    /// At most this many expired upload sessions are freed per tick, so a tick stays short.
    static let expiriesPerTick = 8

    /// Opens the registry's metadata directory in the store's directory (creating it if needed,
    /// and deleting temporaries a crash left). Blocking: call before the loops start.
    public init(
        store: BlobStore, configuration: ServerConfiguration, metrics: ServerMetrics, mirror: Mirror? = nil,
        uploadIdleSeconds: UInt64 = 15 * 60, maxUploadSessions: Int = 1024
    ) throws(BlobStoreError) {
        self.store = store
        self.metrics = metrics
        self.mirror = mirror?.isMirroring == true ? mirror : nil
        access = AccessPolicy(configuration)
        uploads = UploadSessions(store: store, idleTimeout: uploadIdleSeconds, maxSessions: maxUploadSessions)
        do { metadata = try RegistryMetadata(storePath: store.path) } catch { throw .system(error) }
        writable = Atomic(WritabilityProbe.isWritable(store.path))
    }

    /// Decides what to do with `request`, and names the route it is counted under. Never blocks.
    public func handle(_ request: RequestContext) -> (RouteLabel, HandlerAction) {
        let head = request.head
        // RFC 9110 §9.1: a method the server does not know is 501 wherever it is sent; 405 is
        // for a known method the route does not take.
        guard head.method != .other else {
            return (.unknown, .respond(.oci(.unsupported, status: 501, detail: "unknown method")))
        }
        let route: Route
        do { route = try Route(path: Substring(head.path)) } catch {
            return (.unknown, .respond(Response(error)))
        }
        let query: QueryParameters
        do { query = try QueryParameters(parsing: Substring(head.query ?? "")) } catch {
            return (route.label, .respond(.oci(.unsupported, status: 400, detail: error.reason)))
        }
        guard let namespace = query["ns"] else { return (route.label, act(on: route, request, query, namespace: nil)) }
        guard NamespaceParameter.isValid(namespace) else {
            return (route.label, .respond(.oci(.nameInvalid, detail: "ns must be a registry host name, optionally with :port")))
        }
        return (route.label, act(on: route, request, query, namespace: namespace).addingHeaders([("OCI-Namespace", namespace)]))
    }

    /// Periodic upkeep, about once a second on one loop: frees upload sessions left idle past
    /// their timeout (a few per tick: closing and unlinking each one's temporary file), and
    /// probes whether the data directory takes writes.
    public func tick(now: UInt64) {
        for writer in uploads.expire(now: now, limit: Self.expiriesPerTick) { writer.abandon() }
        writable.store(WritabilityProbe.isWritable(store.path), ordering: .relaxed)
    }

    /// Whether the data directory took writes at the last probe.
    var isWritable: Bool { writable.load(ordering: .relaxed) }

    private func act(on route: Route, _ request: RequestContext, _ query: QueryParameters, namespace: String?) -> HandlerAction {
        let method = request.head.method
        guard route.allowedMethods.contains(method) else {
            let allow = route.allowedMethods.compactMap(\.token).joined(separator: ", ")
            return .respond(.oci(.unsupported, detail: "allowed: \(allow)", headers: [("Allow", allow)]))
        }
        let requirement = route.requirement(for: method)
        var peer: SocketAddress? = nil
        switch peerRequester(request) {
        case .refused(let reason)?:
            return .respond(.oci(.denied, detail: "not answered as a peer's request: \(reason)"))
        case .member(let member)?:
            peer = member
        case nil:
            break
        }
        // A member pulling is trusted as a peer (its address, and the secret when one is set).
        let trustedPull = peer != nil && requirement == .pull
        if !trustedPull, let refusal = access.refusal(for: request, needing: requirement) { return .respond(refusal) }
        if let mirror, requirement == .push, !mirror.allowsPush {
            return .respond(.oci(.unsupported, detail: "this server is a pull-through mirror: pushes are off (mirror_push turns them on)"))
        }
        if let mirror, let action = mirrored(route, request.head, namespace: namespace, mirror, peer: peer) { return action }
        switch route {
        case .base:
            return .respond(Response(
                status: 200, headers: [("Docker-Distribution-API-Version", "registry/2.0")],
                body: .bytes(Array("{}".utf8), contentType: "application/json")))
        case .blob(_, let digest):
            return blob(digest, method: method)
        case .casBlob(let digest):
            return casBlob(digest, method: method, request)
        case .uploads(let repository):
            return startUpload(in: repository, request, query)
        case .upload(let repository, let id):
            return continueUpload(id, in: repository, request, query)
        case .manifest(let repository, let reference):
            return manifest(reference, in: repository, request)
        case .tags(let repository):
            return listTags(of: repository, query)
        case .referrers(let repository, let subject):
            return listReferrers(of: subject, in: repository, query)
        case .metrics:
            return metricsPage()
        case .healthz:
            return .respond(Response(status: 200, body: .bytes(Array("ok\n".utf8), contentType: "text/plain")))
        case .readyz:
            return readiness()
        }
    }

    /// Hands a request body to `sink`. A request without a body goes straight to `finish`, on a
    /// worker, since finishing writes to the disk. A Content-Length no file could hold is 413
    /// before the store is asked (the sink is abandoned: an upload session stays as it was): the
    /// store would call it a full disk (507), which a client may retry elsewhere.
    func receive(_ sink: some RequestBodySink, _ head: HTTPRequestHead) -> HandlerAction {
        if case .none = head.body { return .blocking { .respond(sink.finish()) } }
        if case .contentLength(let length) = head.body, length > Self.maxBodyBytes {
            sink.abandon()
            return .respond(.oci(.sizeInvalid, status: 413, detail: "a blob holds at most \(Self.maxBodyBytes) bytes"))
        }
        return .receiveBody(sink)
    }

    /// The most bytes a file offset (`off_t`) can count.
    static let maxBodyBytes = UInt64(Int64.max)

    /// The Content-Length of a request, when it has one.
    static func contentLength(_ head: HTTPRequestHead) -> UInt64? {
        switch head.body {
        case .none: 0
        case .contentLength(let length): length
        case .chunked: nil
        }
    }
}
