import Synchronization

/// Which upstream registry serves a request, chosen by its `ns` query parameter (containerd
/// sends the registry host it would have pulled from):
/// - an exact mapping `REGISTRY=URL` for that host;
/// - else the template `*=URL` with `{ns}` replaced by the host (`https://{ns}`);
/// - a request without `ns` goes to the mapping without a registry (`--upstream URL`).
///
/// `docker.io` is special, as every Docker client knows: its registry is
/// `registry-1.docker.io`, and a single-segment name means `library/<name>`.
///
/// With no upstream configured at all the server is a plain registry and every request is
/// local. Clients are made once per upstream and reused (a template makes one per host, up to
/// `maxTemplateClients`). Thread-safe.
public final class UpstreamDirectory: Sendable {
    /// Where a request goes.
    enum Choice {
        /// Serve from the local registry only.
        case local
        /// Pull through this upstream.
        case upstream(UpstreamTarget)
        /// The request names a registry we do not mirror: 404, so the client tries its next host.
        case unmapped(String)
    }

    /// Makes the client for `url`, which serves `registry` (nil: requests without `ns`).
    public typealias ClientMaker = @Sendable (_ registry: String?, _ url: String) throws(UpstreamError) -> any UpstreamFetching

    static let dockerHub = "docker.io"
    static let dockerHubRegistry = "https://registry-1.docker.io"
    static let maxTemplateClients = 64
    /// The cache key of requests without `ns`.
    static let defaultNamespace = "_default"

    private let exact: [String: any UpstreamFetching]
    private let fallback: (any UpstreamFetching)?
    private let template: String?
    private let makeClient: ClientMaker
    private let templated = Mutex<[String: any UpstreamFetching]>([:])

    /// Whether any upstream is configured: the server is a pull-through mirror.
    let isMirror: Bool

    /// Makes a client for each mapping now, so a bad URL fails at start.
    init(mappings: [UpstreamMapping], makeClient: @escaping ClientMaker) throws(UpstreamError) {
        var exact: [String: any UpstreamFetching] = [:]
        var fallback: (any UpstreamFetching)? = nil
        var template: String? = nil
        for mapping in mappings {
            switch mapping.registry {
            case nil: fallback = try makeClient(nil, mapping.url)
            case "*": template = mapping.url
            case let registry?:
                exact[registry.lowercased()] = try makeClient(registry.lowercased(), Self.resolvedURL(mapping.url, namespace: registry))
            }
        }
        self.exact = exact
        self.fallback = fallback
        self.template = template
        self.makeClient = makeClient
        isMirror = !mappings.isEmpty
    }

    /// The upstream for a request with `namespace` (its `ns`, validated) for `repository`.
    func choose(namespace: String?, repository: RepositoryName) -> Choice {
        guard isMirror else { return .local }
        guard let namespace = namespace?.lowercased() else {
            guard let fallback else { return .local }
            return .upstream(UpstreamTarget(upstream: fallback, namespace: Self.defaultNamespace, repository: repository.value))
        }
        let upstreamRepository = Self.upstreamRepository(repository, namespace: namespace)
        if let client = exact[namespace] {
            return .upstream(UpstreamTarget(upstream: client, namespace: namespace, repository: upstreamRepository))
        }
        guard let template else { return .unmapped(namespace) }
        let client: (any UpstreamFetching)? = templated.withLock { clients in
            if let client = clients[namespace] { return client }
            let url = Self.resolvedURL(template.replacing("{ns}", with: namespace), namespace: namespace)
            guard let client = try? makeClient(namespace, url) else { return nil }
            if clients.count < Self.maxTemplateClients { clients[namespace] = client }
            return client
        }
        guard let client else { return .unmapped(namespace) }
        return .upstream(UpstreamTarget(upstream: client, namespace: namespace, repository: upstreamRepository))
    }

    /// `docker.io` as a URL means Docker Hub's registry endpoint.
    static func resolvedURL(_ url: String, namespace: String) -> String {
        guard namespace == dockerHub else { return url }
        let trimmed = url.hasSuffix("/") ? String(url.dropLast()) : url
        return trimmed == "https://docker.io" || trimmed == "https://index.docker.io" ? dockerHubRegistry : url
    }

    /// Docker Hub's official images live under `library/`.
    static func upstreamRepository(_ repository: RepositoryName, namespace: String) -> String {
        namespace == dockerHub && !repository.value.contains("/") ? "library/" + repository.value : repository.value
    }
}

/// An upstream chosen for a request: the client, the namespace it is cached under, and the
/// repository's name on the upstream.
struct UpstreamTarget: Sendable {
    let upstream: any UpstreamFetching
    /// The `ns` (lowercased), or `UpstreamDirectory.defaultNamespace`.
    let namespace: String
    let repository: String

    /// The same repository through another fetcher (peers first, or the upstream alone).
    func replacing(upstream: any UpstreamFetching) -> UpstreamTarget {
        UpstreamTarget(upstream: upstream, namespace: namespace, repository: repository)
    }
}
