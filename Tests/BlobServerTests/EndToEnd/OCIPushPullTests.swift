import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// skopeo pushes an OCI image into a real `blobcache serve` and pulls it back: every blob and
    /// the manifest must survive byte for byte.
    @Suite("EndToEnd: skopeo push and pull")
    struct OCIPushPullTests {
        @Test func skopeoPushThenPullGivesBackTheSameBlobsAndManifest() throws {
            let skopeo = try ExternalTool.require("skopeo", package: "skopeo")
            let directory = StoreTestDirectory("e2e-skopeo")
            let image = try OCIImageLayout.build(in: directory.path)
            let server = try ServerProcess(dataDirectory: directory.data)
            let reference = "docker://\(server.authority)/test/image:v1"

            try ExternalTool.run(skopeo, [
                "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:\(image.path):v1", reference,
            ]).check()

            let out = "\(directory.path)/out/image"
            #expect(mkdir("\(directory.path)/out", 0o755) == 0)
            try ExternalTool.run(skopeo, [
                "--insecure-policy", "copy", "--src-tls-verify=false", reference, "oci:\(out):v1",
            ]).check()

            let pushed = OCIImageLayout.blobs(of: image.path)
            let pulled = OCIImageLayout.blobs(of: out)
            #expect(pushed.count >= 5, "expected a manifest, a config and three layers: \(pushed)")
            #expect(pulled == pushed, "the pulled layout holds other blobs")
            for blob in pushed {
                #expect(Files.read("\(out)/blobs/\(blob)") == Files.read("\(image.path)/blobs/\(blob)"), "\(blob) differs")
            }
            let index = Files.text("\(out)/index.json") ?? ""
            #expect(OCIImageLayout.digests(in: index) == [image.manifest], "pulled index.json: \(index)")

            // The raw manifest as the registry serves it is the pushed bytes.
            let rawPath = "\(directory.path)/raw-manifest"
            try ExternalTool.shell(
                "\(shellQuoted(skopeo)) --insecure-policy inspect --raw --tls-verify=false \(shellQuoted(reference)) > \(shellQuoted(rawPath))"
            ).check()
            let original = OCIImageLayout.blob(image.manifest, in: image.path)
            #expect(original != nil)
            #expect(Files.read(rawPath) == original, "skopeo inspect --raw differs from the pushed manifest")

            let curl = try Curl(directory: directory.path)
            let tags = try curl.request("\(server.baseURL)/v2/test/image/tags/list")
            #expect(tags.status == 200)
            #expect(tags.text.contains("\"name\":\"test/image\""), "tags/list: \(tags.text)")
            #expect(tags.text.contains("\"v1\""), "tags/list: \(tags.text)")

            let head = try curl.request("\(server.baseURL)/v2/test/image/manifests/v1", [
                "-I", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
            ])
            #expect(head.status == 200)
            #expect(head.header("Docker-Content-Digest") == image.manifest)
            #expect(head.header("Content-Type") == "application/vnd.oci.image.manifest.v1+json")

            // The layers are in the plain CAS store too.
            for layer in try image.layerDigests() {
                let blob = try curl.request("\(server.baseURL)/blobs/\(layer)", ["-I"])
                #expect(blob.status == 200, "layer \(layer) is not in the store")
            }
            #expect(server.stop() == .exited(0))
        }
    }
}
