import Testing
import TestSupport

extension EndToEnd {
    /// containerd pulls an image of a real docker-registry with blobcache as its mirror, using the
    /// shipped `config/containerd/certs.d/docker.io/hosts.toml`: the registry itself is containerd's
    /// `server`, reachable, so a pull that bypassed the mirror would succeed too, and only the
    /// registry's access log tells. Then, with the registry gone, a fresh containerd pulls the same
    /// tag from blobcache's cache alone.
    @Suite("EndToEnd: containerd pulls from docker-registry through blobcache", .serialized)
    struct ContainerdPullThroughTests {
        /// The image's blobs in containerd's content store are the layout's, byte for byte.
        static func expectContent(of image: OCIImageLayout, in containerd: ContainerdInstance, sourceLocation: SourceLocation = #_sourceLocation) throws {
            for blob in OCIImageLayout.blobs(of: image.path) {
                let digest = blob.replacing("/", with: ":")
                #expect(try containerd.content(digest) == Files.read("\(image.path)/blobs/\(blob)"), "\(digest) differs", sourceLocation: sourceLocation)
            }
        }

        @Test func containerdPullsOnlyThroughBlobcacheAndAFreshContainerdPullsAgainFromTheCacheAlone() throws {
            _ = try ExternalTool.require("containerd", package: "containerd")
            let directory = StoreTestDirectory("e2e-containerd-pull-through")
            let image = try OCIImageLayout.build(in: directory.path)
            let registry = try DockerRegistry.start()
            try registry.push(image, as: "test/image:v1")
            let seeded = registry.accessLog.count
            // containerd names the registry in ?ns=, so blobcache maps exactly that name.
            let server = try ServerProcess(
                dataDirectory: directory.data, arguments: ["--upstream", "\(registry.authority)=\(registry.baseURL)"],
                logFile: directory.file("blobcache.log"))
            let hosts = try ContainerdInstance.exampleHostsFile(server: registry.baseURL, mirror: server.baseURL)
            let reference = "\(registry.authority)/test/image:v1"

            do {
                let containerd = try ContainerdInstance(mirror: server.authority)
                try containerd.writeHostsFile(hosts, for: registry.authority)
                let pull = try containerd.pull(reference)
                #expect(pull.succeeded, "ctr images pull: \(pull.output)\nblobcache log:\n\(server.log)\ncontainerd log:\n\(containerd.log)")
                try #require(pull.succeeded)
                try Self.expectContent(of: image, in: containerd)
            }

            // Who asked the registry: its access log records each request's User-Agent, and
            // blobcache sends `blobcache/<version>` while ctr sends `containerd/<version>`. Since the
            // seeding (skopeo's), every request must be blobcache's. Stopped first, so the log is
            // complete.
            registry.stop()
            let asked = registry.accessLog.dropFirst(seeded)
            #expect(!asked.isEmpty, "the registry saw no request at all")
            let notFromBlobcache = asked.filter { !$0.userAgent.hasPrefix("blobcache/") }
            #expect(notFromBlobcache.isEmpty, "requests that bypassed the mirror:\n\(notFromBlobcache.map(\.description).joined(separator: "\n"))")
            for digest in image.blobDigests {
                #expect(registry.requests("GET", "/v2/test/image/blobs/\(digest)").count == 1, "upstream GETs of \(digest)")
            }

            // The registry is gone; a containerd with an empty content store pulls again.
            let fresh = try ContainerdInstance(mirror: server.authority)
            try fresh.writeHostsFile(hosts, for: registry.authority)
            let again = try fresh.pull(reference)
            #expect(again.succeeded, "ctr images pull: \(again.output)\nblobcache log:\n\(server.log)\ncontainerd log:\n\(fresh.log)")
            try #require(again.succeeded)
            try Self.expectContent(of: image, in: fresh)
            #expect(server.stop() == .exited(0))
        }
    }
}
