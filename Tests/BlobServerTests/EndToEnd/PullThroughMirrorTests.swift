import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// `blobcache serve --upstream` in front of a real docker-registry over plain HTTP, with skopeo
    /// and curl as clients: pulls are byte for byte, each blob goes upstream once, pulls still work
    /// once the upstream is gone, a tag past its TTL is served stale, and pushes are refused.
    @Suite("EndToEnd: pull-through mirror of docker-registry", .serialized)
    struct PullThroughMirrorTests {
        static let ociManifest = "application/vnd.oci.image.manifest.v1+json"

        @Test func skopeoPullsByteForByteEachBlobGoesUpstreamOnceAndThePullWorksAgainWithTheUpstreamGone() throws {
            let directory = StoreTestDirectory("e2e-pull-through")
            let image = try OCIImageLayout.build(in: directory.path)
            let registry = try DockerRegistry.start()
            try registry.push(image, as: "test/image:v1")
            let seeded = registry.accessLog.count
            let server = try ServerProcess(dataDirectory: directory.data, arguments: [
                "--upstream", "\(registry.authority)=\(registry.baseURL)", "--upstream", registry.baseURL,
            ], logFile: directory.file("blobcache.log"))

            // skopeo asks the mirror itself, without ns: the bare --upstream serves it.
            let first = try Skopeo.pull("docker://\(server.authority)/test/image:v1", into: directory.file("first"))
            #expect(first.succeeded, "\(first.output)\nblobcache log:\n\(server.log)")
            image.expectSameBlobs(in: directory.file("first"))

            // With ns, as containerd asks: the same bytes, and the namespace echoed.
            let curl = try Curl(directory: directory.path)
            let namespaced = try curl.request("\(server.baseURL)/v2/test/image/manifests/v1?ns=\(registry.authority)", ["-H", "Accept: \(Self.ociManifest)"])
            #expect(namespaced.status == 200, "\(namespaced.text)")
            #expect(namespaced.header("OCI-Namespace") == registry.authority)
            #expect(namespaced.header("Docker-Content-Digest") == image.manifest)
            #expect(namespaced.body == OCIImageLayout.blob(image.manifest, in: image.path))
            let layer = try #require(try image.layerDigests().first)
            let namespacedLayer = try curl.request("\(server.baseURL)/v2/test/image/blobs/\(layer)?ns=\(registry.authority)")
            #expect(namespacedLayer.status == 200)
            #expect(namespacedLayer.header("OCI-Namespace") == registry.authority)
            #expect(namespacedLayer.body == OCIImageLayout.blob(layer, in: image.path))

            // Stopped now so its access log is complete. Every request after the seeding came from
            // blobcache (by its User-Agent), and each blob was fetched once, whatever asked for it.
            registry.stop()
            let upstreamRequests = registry.accessLog.dropFirst(seeded)
            #expect(!upstreamRequests.isEmpty)
            for request in upstreamRequests {
                #expect(request.userAgent.hasPrefix("blobcache/"), "a request not from blobcache: \(request)")
            }
            for digest in image.blobDigests {
                let gets = registry.requests("GET", "/v2/test/image/blobs/\(digest)")
                #expect(gets.count == 1, "upstream GETs of \(digest): \(gets)")
            }

            // The upstream is gone: blobs from the store, the tag from the tag cache (within its
            // TTL, so blobcache does not even try the upstream).
            let failuresBefore = try server.metric("blobcache_upstream_transport_failures_total")
            let tagHitsBefore = try server.metric("blobcache_mirror_hits_total", labels: #"kind="tag""#) ?? 0
            let second = try Skopeo.pull("docker://\(server.authority)/test/image:v1", into: directory.file("second"))
            #expect(second.succeeded, "\(second.output)\nblobcache log:\n\(server.log)")
            image.expectSameBlobs(in: directory.file("second"))
            #expect(try server.metric("blobcache_upstream_transport_failures_total") == failuresBefore)
            #expect(try server.metric("blobcache_mirror_hits_total", labels: #"kind="tag""#) ?? 0 > tagHitsBefore)
            #expect(server.stop() == .exited(0))
        }

        @Test func aTagPastItsTTLIsServedStaleWhileTheUpstreamIsDownAndCounted() throws {
            let directory = StoreTestDirectory("e2e-stale-tag")
            let image = try OCIImageLayout.build(in: directory.path)
            let registry = try DockerRegistry.start()
            try registry.push(image, as: "test/image:v1")
            let server = try ServerProcess(dataDirectory: directory.data, arguments: [
                "--upstream", registry.baseURL, "--tag-ttl", "1s",
            ], logFile: directory.file("blobcache.log"))
            let curl = try Curl(directory: directory.path)
            let manifest = "\(server.baseURL)/v2/test/image/manifests/v1"
            let accept = ["-H", "Accept: \(Self.ociManifest)"]

            let fresh = try curl.request(manifest, accept)
            #expect(fresh.status == 200, "\(fresh.text)")
            #expect(fresh.header("Docker-Content-Digest") == image.manifest)
            #expect(try server.metric("blobcache_mirror_stale_serves_total") == 0)

            registry.stop()
            // The TTL is counted in wall-clock seconds: the tag has to age past it, there is no
            // event to poll for.
            pause(seconds: 2)
            let stale = try curl.request(manifest, accept)
            #expect(stale.status == 200, "\(stale.text)\nblobcache log:\n\(server.log)")
            #expect(stale.header("Docker-Content-Digest") == image.manifest)
            #expect(stale.body == OCIImageLayout.blob(image.manifest, in: image.path))
            #expect(try server.metric("blobcache_mirror_stale_serves_total") == 1)
            #expect(server.log.contains("serving a stale tag"), "blobcache log:\n\(server.log)")

            // A tag never fetched has nothing stale to fall back on.
            let unknown = try curl.request("\(server.baseURL)/v2/test/image/manifests/v2", accept)
            #expect(unknown.status == 502, "\(unknown.status): \(unknown.text)")
            #expect(try server.metric("blobcache_mirror_stale_serves_total") == 1)
            #expect(server.stop() == .exited(0))
        }

        @Test func pushesIntoTheMirrorAreRefusedWith405UnlessMirrorPushIsOn() throws {
            let directory = StoreTestDirectory("e2e-mirror-push")
            let image = try OCIImageLayout.build(in: directory.path)
            // An empty upstream: skopeo first asks whether the blobs exist, and the mirror asks it.
            let registry = try DockerRegistry.start()

            let refusing = try ServerProcess(dataDirectory: directory.file("refusing"), arguments: ["--upstream", registry.baseURL])
            let refused = try Skopeo.push(image, to: "docker://\(refusing.authority)/test/pushed:v1")
            #expect(!refused.succeeded, "the push into a mirror succeeded:\n\(refused.output)")
            // skopeo names the OCI error code (UNSUPPORTED) that came with the 405, not the status.
            #expect(refused.output.contains("initiating layer upload") && refused.output.contains("unsupported"), "skopeo: \(refused.output)")
            let curl = try Curl(directory: directory.path)
            let upload = try curl.request("\(refusing.baseURL)/v2/test/pushed/blobs/uploads/", ["-X", "POST"])
            #expect(upload.status == 405)
            #expect(upload.text.contains("UNSUPPORTED"), "\(upload.text)")
            #expect(Files.storedBlobs(in: refusing.dataDirectory).isEmpty, "a refused push stored blobs")
            #expect(refusing.stop() == .exited(0))

            let accepting = try ServerProcess(dataDirectory: directory.file("accepting"), arguments: [
                "--upstream", registry.baseURL, "--mirror-push",
            ])
            let accepted = try Skopeo.push(image, to: "docker://\(accepting.authority)/test/pushed:v1")
            #expect(accepted.succeeded, "\(accepted.output)")
            // What was pushed here wins over the upstream, which has never heard of it.
            let pulled = try Skopeo.pull("docker://\(accepting.authority)/test/pushed:v1", into: directory.file("pulled"))
            #expect(pulled.succeeded, "\(pulled.output)")
            image.expectSameBlobs(in: directory.file("pulled"))
            #expect(accepting.stop() == .exited(0))

            registry.stop()
            let writes = registry.accessLog.filter { $0.method != "GET" && $0.method != "HEAD" }
            #expect(writes.isEmpty, "pushes reached the upstream: \(writes)")
        }
    }
}
