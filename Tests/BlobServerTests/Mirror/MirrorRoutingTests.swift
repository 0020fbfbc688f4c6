import BlobStore
import Testing
@testable import BlobServer

/// The mirror's pure parts: routing by `ns`, `Accept`, and its configuration values.
@Suite struct MirrorRoutingTests {
    /// A stand-in client that only remembers its URL.
    final class NamedUpstream: UpstreamFetching {
        let url: String
        init(_ url: String) { self.url = url }
        func send(_ request: UpstreamRequest) throws(UpstreamError) -> any UpstreamResponse { throw .unreachable("not a real client") }
    }

    func directory(_ mappings: [String]) throws -> UpstreamDirectory {
        try UpstreamDirectory(mappings: mappings.map { try UpstreamMapping(parsing: $0) }) { _, url in NamedUpstream(url) }
    }

    func url(_ choice: UpstreamDirectory.Choice) -> String? {
        guard case .upstream(let target) = choice else { return nil }
        return (target.upstream as? NamedUpstream)?.url
    }

    @Test func routingByNamespace() throws {
        let name = try #require(RepositoryName("alpine"))
        let nested = try #require(RepositoryName("org/tool"))
        let routes = try directory(["http://default.test", "ghcr.io=https://ghcr.example", "*=https://{ns}"])
        #expect(url(routes.choose(namespace: nil, repository: name)) == "http://default.test")
        #expect(url(routes.choose(namespace: "ghcr.io", repository: name)) == "https://ghcr.example")
        #expect(url(routes.choose(namespace: "GHCR.io", repository: name)) == "https://ghcr.example")
        #expect(url(routes.choose(namespace: "quay.io", repository: name)) == "https://quay.io")
        // The template's docker.io is Docker Hub's registry endpoint, with library/ for one segment.
        guard case .upstream(let hub) = routes.choose(namespace: "docker.io", repository: name) else {
            Issue.record("docker.io is not routed")
            return
        }
        #expect((hub.upstream as? NamedUpstream)?.url == "https://registry-1.docker.io")
        #expect(hub.repository == "library/alpine")
        guard case .upstream(let hubNested) = routes.choose(namespace: "docker.io", repository: nested) else { return }
        #expect(hubNested.repository == "org/tool")
        guard case .upstream(let plain) = routes.choose(namespace: "ghcr.io", repository: name) else { return }
        #expect(plain.repository == "alpine" && plain.namespace == "ghcr.io")
    }

    @Test func withoutATemplateUnknownRegistriesAreUnmappedAndNoUpstreamMeansLocal() throws {
        let name = try #require(RepositoryName("alpine"))
        let routes = try directory(["ghcr.io=https://ghcr.example"])
        guard case .unmapped("quay.io") = routes.choose(namespace: "quay.io", repository: name) else {
            Issue.record("quay.io should be unmapped")
            return
        }
        guard case .local = routes.choose(namespace: nil, repository: name) else {
            Issue.record("no default upstream: requests without ns are local")
            return
        }
        let none = try directory([])
        #expect(!none.isMirror)
        guard case .local = none.choose(namespace: "docker.io", repository: name) else {
            Issue.record("no upstream at all: everything is local")
            return
        }
    }

    @Test func concurrentFillsArePaidForByTheFillShareOfTheBudget() {
        #expect(Mirror.fillCap(budget: MemoryBudget(total: 128 << 20)) == Mirror.maxConcurrentFills)
        // 2 MiB of fill share at 200 KiB a fill.
        #expect(Mirror.fillCap(budget: MemoryBudget(total: 16 << 20)) == 10)
        #expect(Mirror.fillCap(budget: MemoryBudget(total: 1 << 20)) == 2)
    }

    @Test func acceptedMediaTypes() {
        let index = "application/vnd.oci.image.index.v1+json"
        let manifest = "application/vnd.oci.image.manifest.v1+json"
        #expect(AcceptedMediaTypes(field: nil).admits(index))
        #expect(AcceptedMediaTypes(field: "*/*").admits(index))
        #expect(AcceptedMediaTypes(field: "application/*").admits(index))
        #expect(!AcceptedMediaTypes(field: "text/*").admits(index))
        #expect(!AcceptedMediaTypes(field: manifest).admits(index))
        #expect(AcceptedMediaTypes(field: " \(manifest) ;q=0.5, \(index)").admits(index))
        #expect(!AcceptedMediaTypes(field: "\(index);q=0, \(manifest)").admits(index))
        #expect(AcceptedMediaTypes(field: "APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON").admits(index))
        #expect(AcceptedMediaTypes(field: nil).forwarded.hasPrefix(index))
        #expect(AcceptedMediaTypes(field: manifest).forwarded == manifest)
    }

    @Test(arguments: [("90", 90), ("90s", 90), ("5m", 300), ("12h", 43200), ("7d", 604_800), ("0", 0)] as [(String, UInt64)])
    func durations(text: String, seconds: UInt64) throws {
        #expect(try DurationText.seconds(parsing: text) == seconds)
    }

    @Test(arguments: ["", "m", "5 m", "-5", "1.5h", "5w", "99999999999"])
    func badDurations(text: String) {
        #expect(throws: ConfigurationValueError.self) { try DurationText.seconds(parsing: text) }
    }

    @Test func upstreamCredentialsNameWhereThePasswordIs() throws {
        let fromFile = try UpstreamAuthSetting(parsing: "Docker.io=me:file:/run/secrets/hub")
        #expect(fromFile.registry == "docker.io" && fromFile.user == "me" && fromFile.source == .file("/run/secrets/hub"))
        let fromEnvironment = try UpstreamAuthSetting(parsing: "ghcr.io=bot:env:GHCR_TOKEN")
        #expect(fromEnvironment.source == .environment("GHCR_TOKEN"))
        let password = try fromFile.password(environment: [:]) { path throws(ConfigurationValueError) in
            #expect(path == "/run/secrets/hub")
            return Array("s3cret\n".utf8)
        }
        #expect(password == "s3cret")
        #expect(try fromEnvironment.password(environment: ["GHCR_TOKEN": "t0k"]) { _ throws(ConfigurationValueError) in [] } == "t0k")
        #expect(throws: ConfigurationValueError.self) {
            try fromEnvironment.password(environment: [:]) { _ throws(ConfigurationValueError) in [] }
        }
        for bad in ["docker.io", "docker.io=me:pass", "docker.io=me:plain:secret", "=me:env:X", "docker.io=:env:X", "docker.io=me:env:"] {
            #expect(throws: ConfigurationValueError.self) { try UpstreamAuthSetting(parsing: bad) }
        }
    }

    @Test func mirrorSettingsLoadFromFlagsAndNameTheKeyWhenBad() throws {
        let loaded = try ConfigurationLoader().load(arguments: [
            "--upstream", "*=https://{ns}", "--tag-ttl", "2m", "--tag-max-stale", "1d", "--mirror-push",
            "--upstream-ca-file", "/etc/ca.pem", "--upstream-tls-verify=false", "--upstream-auth", "docker.io=me:env:HUB",
        ], environment: [:])
        #expect(loaded.upstreams == [try UpstreamMapping(parsing: "*=https://{ns}")])
        #expect(loaded.tagTTLSeconds == 120 && loaded.tagMaxStaleSeconds == 86400 && loaded.mirrorPush)
        #expect(loaded.upstreamCAFile == "/etc/ca.pem" && !loaded.upstreamTLSVerify)
        #expect(loaded.upstreamAuth.map(\.registry) == ["docker.io"])
        #expect(throws: ConfigurationError(key: "--tag-ttl", value: "soon", reason: "not a duration: use whole seconds with an optional unit s, m, h or d (90, 5m, 12h)")) {
            try ConfigurationLoader().load(arguments: ["--tag-ttl", "soon"], environment: [:])
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader().load(arguments: ["--upstream", "*=https://mirror.example"], environment: [:])
        }
    }
}
