import Testing
import TestSupport

extension EndToEnd {
    /// blobcache mirrors a docker-registry that serves TLS with a certificate from a private CA:
    /// trusted through `--upstream-ca-file`, refused without it, taken with
    /// `--upstream-tls-verify=false`.
    @Suite("EndToEnd: mirror of a TLS docker-registry", .serialized)
    struct MirrorTLSUpstreamTests {
        @Test func anHTTPSUpstreamIsTrustedWithTheCAFileRefusedWithoutItAndTakenWithVerificationOff() throws {
            let directory = StoreTestDirectory("e2e-mirror-tls")
            let authority = try TestCertificateAuthority.make(in: directory.path)
            let image = try OCIImageLayout.build(in: directory.path)
            let registry = try DockerRegistry.start(tls: authority)
            try registry.push(image, as: "test/image:v1")
            // By name, so the certificate's DNS name is what is checked.
            let upstream = "https://localhost:\(registry.port)"
            let layer = try #require(try image.layerDigests().first)
            let curl = try Curl(directory: directory.path)

            let trusting = try ServerProcess(
                dataDirectory: directory.file("trusting"), arguments: ["--upstream", upstream, "--upstream-ca-file", authority.certificate],
                logFile: directory.file("trusting.log"))
            let pull = try Skopeo.pull("docker://\(trusting.authority)/test/image:v1", into: directory.file("pulled"))
            #expect(pull.succeeded, "\(pull.output)\nblobcache log:\n\(trusting.log)")
            image.expectSameBlobs(in: directory.file("pulled"))
            #expect(trusting.stop() == .exited(0))

            let untrusting = try ServerProcess(
                dataDirectory: directory.file("untrusting"), arguments: ["--upstream", upstream], logFile: directory.file("untrusting.log"))
            let refused = try curl.request("\(untrusting.baseURL)/v2/test/image/blobs/\(layer)")
            #expect(refused.status == 502, "\(refused.status): \(refused.text)")
            // Refused for the right reason: the certificate, not a name that failed to resolve.
            #expect(refused.text.contains("certificate verification failed"), "\(refused.text)")
            let failure = untrusting.log.split(separator: "\n").first { $0.contains("blob fill failed") && $0.contains(layer) }
            #expect(failure?.contains("certificate verification failed") == true, "no log line for the refused fill:\n\(untrusting.log)")
            #expect(Files.storedBlobs(in: untrusting.dataDirectory).isEmpty)
            #expect(untrusting.stop() == .exited(0))

            let unverifying = try ServerProcess(
                dataDirectory: directory.file("unverifying"), arguments: ["--upstream", upstream, "--upstream-tls-verify=false"])
            let taken = try curl.request("\(unverifying.baseURL)/v2/test/image/blobs/\(layer)")
            #expect(taken.status == 200, "\(taken.status): \(taken.text)")
            #expect(taken.body == OCIImageLayout.blob(layer, in: image.path))
            #expect(unverifying.stop() == .exited(0))

            // The refused fill never got as far as HTTP: its TLS handshake failed. The two others
            // each fetched the layer once.
            registry.stop()
            #expect(registry.requests("GET", "/v2/test/image/blobs/\(layer)").count == 2, "\(registry.accessLog)")
        }
    }
}
