import BlobStore
import Testing
import TestSupport

extension EndToEnd {
    /// A request cannot turn upstream TLS verification off, nor send the server to an upstream
    /// its configuration does not name. The upstream is a docker-registry serving TLS with a
    /// certificate from a CA the server does not trust; requests try query parameters, fields,
    /// `ns`, `Host` and the target's authority, all pointing at a recorder that would serve
    /// the blob. Every fill fails on the certificate (502), every other upstream is unmapped
    /// (404) or no host name (400), nothing is cached, the recorder sees no connection, and
    /// the registry never gets as far as a request.
    @Suite("EndToEnd: hostile TLS verification", .serialized)
    struct HostileTLSVerificationTests {
        @Test func noRequestDisablesVerificationOrPicksAnotherUpstream() throws {
            let directory = StoreTestDirectory("e2e-hostile-tls")
            let authority = try TestCertificateAuthority.make(in: directory.path)
            let registry = try DockerRegistry.start(tls: authority)
            let blob = pseudoRandomBytes(count: 2000, seed: 91)
            let digest = try registry.upload(blob, to: "test/blob")
            let recorder = try FakeHTTPServer { _ in FakeHTTPServer.Reply(body: blob) }
            defer { recorder.stop() }
            let rogue = "127.0.0.1:\(recorder.port)"
            // By name, so the certificate's DNS name would match: only the CA is untrusted.
            let server = try ServerProcess(
                dataDirectory: directory.data, arguments: ["--upstream", "https://localhost:\(registry.port)"], logFile: directory.file("server.log"))

            let path = "/v2/test/blob/blobs/\(digest)"
            let refusedByCertificate: [(name: String, target: String, headers: [String])] = [
                ("no tricks", path, []),
                ("?tls_verify=false", path + "?tls_verify=false", []),
                ("?tls-verify=false&insecure=1", path + "?tls-verify=false&insecure=1", []),
                ("?insecure=true&verify=0", path + "?insecure=true&verify=0", []),
                ("?upstream_tls_verify=false", path + "?upstream_tls_verify=false", []),
                ("?upstream= the recorder", path + "?upstream=http%3A%2F%2F\(rogue)", []),
                ("?scheme=http", path + "?scheme=http", []),
                ("insecure-registry fields", path, ["X-Registry-Insecure: true", "X-Upstream-TLS-Verify: false", "Insecure: 1"]),
                ("forwarding fields", path, ["X-Forwarded-Proto: http", "X-Forwarded-Host: \(rogue)", "Forwarded: host=\(rogue);proto=http"]),
                ("an upstream field", path, ["Upstream: http://\(rogue)", "X-Upstream: http://\(rogue)"]),
                ("the recorder's authority in the target", "http://\(rogue)" + path, []),
                ("the recorder's authority in an https target", "https://\(rogue)" + path, []),
            ]
            let otherUpstreams: [(name: String, target: String, status: Int, code: String)] = [
                ("ns= the recorder", path + "?ns=\(rogue)", 404, "NAME_UNKNOWN"),
                ("ns= the recorder by name", path + "?ns=localhost:\(recorder.port)", 404, "NAME_UNKNOWN"),
                ("ns= the registry itself by name", path + "?ns=localhost:\(registry.port)", 404, "NAME_UNKNOWN"),
                ("ns=docker.io", path + "?ns=docker.io", 404, "NAME_UNKNOWN"),
                ("ns= an http URL", path + "?ns=http%3A%2F%2F\(rogue)", 400, "NAME_INVALID"),
                ("ns= an https URL without verification", path + "?ns=https%3A%2F%2F\(rogue)%3Ftls_verify%3Dfalse", 400, "NAME_INVALID"),
                ("ns= a host with a path", path + "?ns=\(rogue)%2Fv2", 400, "NAME_INVALID"),
                ("ns= a host with userinfo", path + "?ns=user%40\(rogue)", 400, "NAME_INVALID"),
            ]

            for attempt in refusedByCertificate {
                let row = HostileRow.request(attempt.name, "GET", attempt.target, headers: attempt.headers, status: 502)
                let answer = try HostileExchange(row.request, host: server.host, port: server.port, deadlineSeconds: 20)
                #expect(answer.status == 502, "\(row): \(answer.status.map(String.init) ?? "no answer") \(answer.text)")
                #expect(answer.text.contains("certificate verification failed"), "\(row): \(answer.text)")
                #expect(answer.body != blob, "\(row) served the blob")
            }
            // The Host field is the client's to name; it picks nothing either.
            let hosted = try HostileExchange(
                Array("GET \(path) HTTP/1.1\r\nHost: \(rogue)\r\nConnection: close\r\n\r\n".utf8), host: server.host, port: server.port,
                deadlineSeconds: 20)
            #expect(hosted.status == 502 && hosted.text.contains("certificate verification failed"), "Host: the recorder: \(hosted.text)")
            for attempt in otherUpstreams {
                let row = HostileRow.request(attempt.name, "GET", attempt.target, status: attempt.status, code: attempt.code)
                let answer = try HostileExchange(row.request, host: server.host, port: server.port, deadlineSeconds: 20)
                #expect(answer.status == attempt.status, "\(row): \(answer.status.map(String.init) ?? "no answer") \(answer.text)")
                #expect(answer.text.contains(#""code":"\#(attempt.code)""#), "\(row): \(answer.text)")
            }
            #expect(server.stop() == .exited(0))
            registry.stop()

            #expect(Files.storedBlobs(in: directory.data).isEmpty, "a blob was cached")
            #expect(recorder.connectionsAccepted == 0, "the server connected to a host no configuration names")
            // Every fill stopped at the handshake: the registry answered no request for the blob.
            #expect(registry.requests("GET", path).isEmpty, "\(registry.accessLog)")
            let failures = server.log.split(separator: "\n").filter { $0.contains("blob fill failed") && $0.contains("certificate verification failed") }
            #expect(!failures.isEmpty, "no log line for the refused fills:\n\(server.log)")
        }
    }
}
