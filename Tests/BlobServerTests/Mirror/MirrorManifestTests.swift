import BlobStore
import Synchronization
import TestSupport
import Testing
@testable import BlobServer

/// Manifests and tags through the mirror, against an in-process upstream whose tag the test
/// can move and whose availability it can switch.
@Suite struct MirrorManifestTests {
    static let index = "application/vnd.oci.image.index.v1+json"
    static let manifest = "application/vnd.oci.image.manifest.v1+json"

    /// An upstream with one repository `lib/app`: tag `v1` is an index (for clients that accept
    /// one) or a single manifest (for those that do not); `mode` makes it fail.
    final class TagUpstream: Sendable {
        enum Mode: Sendable { case up, down, rateLimited, serverError }
        let mode = Mutex(Mode.up)
        let indexBytes = Mutex<[UInt8]>(Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.utf8))
        let manifestBytes = imageManifest()
        /// A wrong body for the digest-addressed manifest `liar`.
        let lie = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#.utf8)

        var indexDigest: Digest { StreamingHasher.digest(of: indexBytes.withLock { $0 }) }
        var manifestDigest: Digest { StreamingHasher.digest(of: manifestBytes) }

        func makeUpstream() -> ScriptedUpstream {
            ScriptedUpstream { [self] request in
                switch mode.withLock({ $0 }) {
                case .down: return .failure(.unreachable("connection refused"))
                case .rateLimited: return .success(.init(status: 429))
                case .serverError: return .success(.init(status: 503))
                case .up: break
                }
                let accept = request.headers.first { $0.name == "Accept" }?.value ?? ""
                let index = indexBytes.withLock { $0 }
                let wantsIndex = accept.contains(MirrorManifestTests.index)
                func reply(_ bytes: [UInt8], _ type: String) -> Result<ScriptedUpstream.Reply, UpstreamError> {
                    .success(.init(status: 200, headers: [
                        ("Content-Type", type), ("Docker-Content-Digest", StreamingHasher.digest(of: bytes).description),
                    ], body: bytes))
                }
                if request.path == "/v2/lib/app/manifests/v1" {
                    return wantsIndex ? reply(index, MirrorManifestTests.index) : reply(manifestBytes, MirrorManifestTests.manifest)
                }
                if request.path == "/v2/lib/app/manifests/\(StreamingHasher.digest(of: index))" { return reply(index, MirrorManifestTests.index) }
                if request.path == "/v2/lib/app/manifests/\(manifestDigest)" { return reply(manifestBytes, MirrorManifestTests.manifest) }
                if request.path.hasPrefix("/v2/lib/app/manifests/sha256:") {
                    // Any other digest: the liar's body, which hashes to something else.
                    return .success(.init(status: 200, headers: [("Content-Type", MirrorManifestTests.manifest)], body: lie))
                }
                return .success(.init(status: 404))
            }
        }
    }

    func gets(_ upstream: ScriptedUpstream, _ suffix: String) -> Int { upstream.count(.get, pathSuffix: suffix) }
    func heads(_ upstream: ScriptedUpstream, _ suffix: String) -> Int { upstream.count(.head, pathSuffix: suffix) }

    @Test("A tag is fetched once, answered from the cache within its TTL, then revalidated with a HEAD only")
    func tagTTLAndRevalidation() throws {
        let tags = TagUpstream()
        let upstream = tags.makeUpstream()
        let harness = try MirrorHarness(upstream: upstream) { $0.tagTTLSeconds = 60 }
        let first = try harness.request("GET", "/v2/lib/app/manifests/v1", headers: [("Accept", "\(Self.index), \(Self.manifest)")])
        #expect(first.status == 200)
        #expect(first.header("Content-Type") == Self.index)
        #expect(first.header("Docker-Content-Digest") == tags.indexDigest.description)
        #expect(first.body == tags.indexBytes.withLock { $0 })
        #expect(heads(upstream, "/manifests/v1") == 1)
        #expect(gets(upstream, "/manifests/\(tags.indexDigest)") == 1)
        // Within the TTL: nothing goes upstream.
        harness.advanceClock(by: 30)
        #expect(try harness.request("GET", "/v2/lib/app/manifests/v1").status == 200)
        #expect(upstream.requests.count == 2)
        // Past it: one HEAD, unchanged, so no GET.
        harness.advanceClock(by: 31)
        let revalidated = try harness.request("GET", "/v2/lib/app/manifests/v1")
        #expect(revalidated.body == tags.indexBytes.withLock { $0 })
        #expect(heads(upstream, "/manifests/v1") == 2)
        #expect(upstream.requests.count == 3)
        let counts = harness.mirror.counters.snapshot
        #expect(counts.hits[.tag] == 2 && counts.misses[.tag] == 1)
    }

    @Test("A tag that moved upstream is fetched again after its TTL")
    func movedTag() throws {
        let tags = TagUpstream()
        let upstream = tags.makeUpstream()
        let harness = try MirrorHarness(upstream: upstream) { $0.tagTTLSeconds = 10 }
        let before = try harness.request("GET", "/v2/lib/app/manifests/v1")
        tags.indexBytes.withLock { $0 = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"v":"2"}}"#.utf8) }
        #expect(try harness.request("GET", "/v2/lib/app/manifests/v1").body == before.body)
        harness.advanceClock(by: 11)
        let after = try harness.request("GET", "/v2/lib/app/manifests/v1")
        #expect(after.body == tags.indexBytes.withLock { $0 })
        #expect(after.header("Docker-Content-Digest") == tags.indexDigest.description)
    }

    @Test("A stale tag is served while the upstream is down, rate-limited or failing, up to the maximum staleness", arguments: [
        TagUpstream.Mode.down, .rateLimited, .serverError,
    ])
    func staleTags(_ mode: TagUpstream.Mode) throws {
        let tags = TagUpstream()
        let upstream = tags.makeUpstream()
        let harness = try MirrorHarness(upstream: upstream) {
            $0.tagTTLSeconds = 10
            $0.tagMaxStaleSeconds = 100
        }
        let fresh = try harness.request("GET", "/v2/lib/app/manifests/v1")
        tags.mode.withLock { $0 = mode }
        harness.advanceClock(by: 50)
        let stale = try harness.request("GET", "/v2/lib/app/manifests/v1")
        #expect(stale.status == 200)
        #expect(stale.body == fresh.body)
        #expect(harness.mirror.counters.snapshot.staleServes == 1)
        // The outage is remembered for a few seconds: the next request does not ask again.
        let asked = upstream.requests.count
        #expect(try harness.request("GET", "/v2/lib/app/manifests/v1").body == fresh.body)
        #expect(upstream.requests.count == asked)
        #expect(harness.mirror.counters.snapshot.staleServes == 2)
        harness.advanceClock(by: 61)
        let tooOld = try harness.request("GET", "/v2/lib/app/manifests/v1")
        #expect(tooOld.status == (mode == .rateLimited ? 429 : 502))
        // Never fetched at all: nothing stale to give.
        #expect(try harness.request("GET", "/v2/lib/app/manifests/v2").status == (mode == .rateLimited ? 429 : 502))
    }

    @Test("A client that does not accept an index is never given one")
    func acceptIsHonoured() throws {
        let tags = TagUpstream()
        let upstream = tags.makeUpstream()
        let harness = try MirrorHarness(upstream: upstream)
        #expect(try harness.request("GET", "/v2/lib/app/manifests/v1").header("Content-Type") == Self.index)
        let narrow = try harness.request("GET", "/v2/lib/app/manifests/v1", headers: [("Accept", Self.manifest)])
        #expect(narrow.status == 200)
        #expect(narrow.header("Content-Type") == Self.manifest)
        #expect(narrow.body == tags.manifestBytes)
        // By digest, an index for a client that refuses one is not there for it.
        let refused = try harness.request("GET", "/v2/lib/app/manifests/\(tags.indexDigest)", headers: [("Accept", Self.manifest)])
        #expect(refused.status == 404)
        #expect(refused.text.contains("MANIFEST_UNKNOWN"))
    }

    @Test("Manifests by digest are cached like blobs; a wrong body is refused and counted")
    func byDigest() throws {
        let tags = TagUpstream()
        let upstream = tags.makeUpstream()
        let harness = try MirrorHarness(upstream: upstream)
        let path = "/v2/lib/app/manifests/\(tags.manifestDigest)"
        #expect(try harness.request("GET", path).body == tags.manifestBytes)
        let again = try harness.request("GET", path)
        #expect(again.body == tags.manifestBytes)
        #expect(again.header("Content-Type") == Self.manifest)
        #expect(gets(upstream, path) == 1)
        let unknown = StreamingHasher.digest(of: Array("nothing".utf8))
        let lie = try harness.request("GET", "/v2/lib/app/manifests/\(unknown)")
        #expect(lie.status == 502)
        #expect(!harness.store.contains(unknown))
        #expect(harness.mirror.counters.snapshot.digestMismatches == 1)
    }

    @Test("HEAD of an uncached tag or digest answers from one upstream HEAD, without a download")
    func headsDoNotDownload() throws {
        let tags = TagUpstream()
        let upstream = tags.makeUpstream()
        let harness = try MirrorHarness(upstream: upstream)
        let tag = try harness.request("HEAD", "/v2/lib/app/manifests/v1")
        #expect(tag.status == 200)
        #expect(tag.header("Docker-Content-Digest") == tags.indexDigest.description)
        #expect(tag.header("Content-Length") == String(tags.indexBytes.withLock { $0.count }))
        #expect(tag.header("Content-Type") == Self.index)
        let digest = try harness.request("HEAD", "/v2/lib/app/manifests/\(tags.manifestDigest)")
        #expect(digest.status == 200)
        #expect(digest.header("Content-Length") == String(tags.manifestBytes.count))
        #expect(upstream.requests.allSatisfy { $0.method == .head })
        #expect(try harness.request("HEAD", "/v2/lib/app/manifests/nope").status == 404)
    }
}
