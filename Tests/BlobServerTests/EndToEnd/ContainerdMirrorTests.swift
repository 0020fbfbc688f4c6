import BlobStore
import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// containerd pulls through `blobcache serve` as a hosts.toml mirror: the image is pushed
    /// into blobcache with skopeo, then `ctr images pull registry.example.invalid/test/image:v1`
    /// can only succeed through the mirror (the registry's name does not resolve). containerd
    /// sends `?ns=registry.example.invalid` on every request.
    @Suite("EndToEnd: containerd pulls through blobcache", .serialized)
    struct ContainerdMirrorTests {
        /// `blobcache_http_requests_total{route="<route>",status="<status>"}` from /metrics.
        static func requestCount(_ server: ServerProcess, route: String, status: Int) throws -> Int {
            let page = try server.request("GET", "/metrics").text
            let prefix = #"blobcache_http_requests_total{route="\#(route)",status="\#(status)"} "#
            guard let line = page.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
            return Int(line.dropFirst(prefix.count)) ?? 0
        }

        @Test func ctrPullsAnImageThroughTheMirrorByteForByte() throws {
            let skopeo = try ExternalTool.require("skopeo", package: "skopeo")
            _ = try ExternalTool.require("containerd", package: "containerd")
            let directory = StoreTestDirectory("e2e-mirror")
            let image = try OCIImageLayout.build(in: directory.path)
            let server = try ServerProcess(dataDirectory: directory.data)
            try ExternalTool.run(skopeo, [
                "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:\(image.path):v1",
                "docker://\(server.authority)/test/image:v1",
            ]).check()
            let layers = try image.layerDigests()
            #expect(layers.count == 3, "layers: \(layers)")
            let blobsBefore = try Self.requestCount(server, route: "blob", status: 200)
            let manifestsBefore = try Self.requestCount(server, route: "manifest", status: 200)

            let containerd = try ContainerdInstance(mirror: server.authority)
            let reference = "\(ContainerdInstance.registry)/test/image:v1"
            let pull = try containerd.pull(reference)
            #expect(pull.succeeded, "ctr images pull: \(pull.status)\n\(pull.output)\ncontainerd log:\n\(containerd.log)")
            try #require(pull.succeeded)

            let list = try containerd.run(["images", "ls"]).check()
            #expect(list.output.contains(reference), "ctr images ls:\n\(list.output)")
            #expect(list.output.contains(image.manifest), "ctr images ls:\n\(list.output)")
            for layer in layers {
                let pulled = try containerd.content(layer)
                #expect(pulled == OCIImageLayout.blob(layer, in: image.path), "layer \(layer) differs after the pull (\(pulled.count) bytes)")
            }
            #expect(try containerd.content(image.manifest) == OCIImageLayout.blob(image.manifest, in: image.path))

            // The bytes came from blobcache: a manifest and the config and layers were served.
            let blobsServed = try Self.requestCount(server, route: "blob", status: 200) - blobsBefore
            let manifestsServed = try Self.requestCount(server, route: "manifest", status: 200) - manifestsBefore
            #expect(blobsServed >= layers.count + 1, "blob GETs answered 200 during the pull: \(blobsServed)")
            #expect(manifestsServed >= 1, "manifest requests answered 200 during the pull: \(manifestsServed)")

            // By digest too.
            let byDigest = try containerd.pull("\(ContainerdInstance.registry)/test/image@\(image.manifest)")
            #expect(byDigest.succeeded, "pull by digest: \(byDigest.output)")
            // A tag blobcache does not have fails the pull, rather than hanging or half-succeeding.
            let missing = try containerd.pull("\(ContainerdInstance.registry)/test/image:absent")
            #expect(!missing.succeeded, "a pull of an absent tag succeeded: \(missing.output)")

            containerd.stop()
            ContainerdInstance.unmountEverything(below: containerd.directory.path)
            #expect(ContainerdInstance.mounts(below: containerd.directory.path).isEmpty)
            #expect(server.stop() == .exited(0))
        }

        @Test func theNamespaceParameterIsAcceptedAndEchoed() throws {
            let directory = StoreTestDirectory("e2e-mirror")
            let server = try ServerProcess(dataDirectory: directory.data)
            let bytes = pseudoRandomBytes(count: 3000, seed: 71)
            let digest = Digest.of(bytes)
            #expect(try server.request("PUT", "/blobs/\(digest)", body: bytes).status == 201)

            let base = try server.request("GET", "/v2/?ns=registry.example.invalid")
            #expect(base.status == 200)
            #expect(base.header("OCI-Namespace") == "registry.example.invalid")
            let blob = try server.request("GET", "/v2/test/image/blobs/\(digest)?ns=registry.example.invalid")
            #expect(blob.status == 200)
            #expect(blob.body == bytes)
            #expect(blob.header("OCI-Namespace") == "registry.example.invalid")
            let range = try server.request("GET", "/v2/test/image/blobs/\(digest)?ns=docker.io", headers: ["Range: bytes=10-19"])
            #expect(range.status == 206)
            #expect(range.body == Array(bytes[10...19]))
            #expect(range.header("OCI-Namespace") == "docker.io")
            let absent = try server.request("GET", "/v2/test/image/manifests/v1?ns=localhost:5000")
            #expect(absent.status == 404)
            #expect(absent.header("OCI-Namespace") == "localhost:5000")

            // A value that could not be echoed safely is refused.
            let hostile = try server.request("GET", "/v2/test/image/blobs/\(digest)?ns=evil%0d%0aSet-Cookie:x")
            #expect(hostile.status == 400)
            #expect(hostile.header("Set-Cookie") == nil)
            #expect(hostile.header("OCI-Namespace") == nil)
        }
    }
}
