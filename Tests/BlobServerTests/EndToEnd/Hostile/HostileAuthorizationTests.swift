import BlobStore
import Testing
import TestSupport
@testable import BlobServer

extension EndToEnd {
    /// Who may write to a server listening on a non-loopback address: a real `blobcache serve`
    /// on 192.0.2.1 inside a network namespace the test makes (`NetworkNamespace`), so the
    /// address is not loopback to the server (AccessPolicy, SocketAddress.isLoopback) and yet
    /// nothing outside the namespace can reach it. Without a configured credential every write
    /// is refused; with `auth_token` and `auth_basic` only those credentials write; reads stay
    /// open unless `pull_auth`; the probes stay open always.
    @Suite("EndToEnd: hostile authorization", .serialized)
    struct HostileAuthorizationTests {
        static let token = "tok-3f9a6c1e8b7d4a20.secret"
        static let user = "pusher"
        static let password = "pw-5e1d9c7b3a"

        /// `user:password` as `Authorization: Basic` carries it.
        static func basic(_ pair: String) -> String { Base64.encode(Array(pair.utf8)) }

        /// The writes a client can try, on the store and on an upload session that may exist.
        static func writes(_ digest: Digest, fresh: [UInt8], freshDigest: Digest) -> [(method: String, target: String, body: [UInt8])] {
            let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(digest)","size":4096},"layers":[]}"#.utf8)
            return [
                ("POST", "/v2/a/blobs/uploads/", []),
                ("POST", "/v2/a/blobs/uploads/?digest=\(freshDigest)", fresh),
                ("POST", "/v2/a/blobs/uploads/?mount=\(digest)&from=b", []),
                ("PUT", "/blobs/\(freshDigest)", fresh),
                ("PUT", "/v2/a/manifests/v1", manifest),
                ("PATCH", "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef", fresh),
                ("PUT", "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef?digest=\(freshDigest)", fresh),
                ("GET", "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef", []),
                ("DELETE", "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdef", []),
                ("DELETE", "/blobs/\(digest)", []),
                ("DELETE", "/v2/a/blobs/\(digest)", []),
                ("DELETE", "/v2/a/manifests/v1", []),
            ]
        }

        /// Credentials that must not open a write: absent, wrong, misspelt, or right in the wrong
        /// scheme.
        static let wrongCredentials: [(name: String, headers: [String])] = [
            ("no credential", []),
            ("a wrong token", ["Authorization: Bearer tok-wrong"]),
            ("the token with a byte more", ["Authorization: Bearer \(token)x"]),
            ("the token cut short", ["Authorization: Bearer \(token.dropLast())"]),
            ("the token as Basic", ["Authorization: Basic \(token)"]),
            ("the Basic pair as a token", ["Authorization: Bearer \(basic("\(user):\(password)"))"]),
            ("a wrong password", ["Authorization: Basic \(basic("\(user):wrong"))"]),
            ("a wrong user", ["Authorization: Basic \(basic("intruder:\(password)"))"]),
            ("the pair without its user", ["Authorization: Basic \(basic(":\(password)"))"]),
            ("Basic that is not base64", ["Authorization: Basic %%%%"]),
            ("an empty Bearer", ["Authorization: Bearer"]),
            ("an unknown scheme", ["Authorization: Digest \(token)"]),
            ("an empty Authorization", ["Authorization:"]),
            ("the token in another field", ["X-Auth-Token: \(token)", "Proxy-Authorization: Bearer \(token)"]),
        ]

        @Test func withoutAConfiguredCredentialEveryWriteIsRefused() throws {
            let namespace = try NetworkNamespace()
            let fixture = try HostileServer(namespace: namespace)
            let fresh = Array("not stored\n".utf8)
            for (name, headers) in [("no credential", [String]()), ("any token", ["Authorization: Bearer \(Self.token)"]),
                                    ("any pair", ["Authorization: Basic \(Self.basic("\(Self.user):\(Self.password)"))"])] {
                for write in Self.writes(fixture.digest, fresh: fresh, freshDigest: Digest.of(fresh)) {
                    let row = HostileRow.request("\(write.method) \(write.target.prefix(40)) with \(name)", write.method, write.target,
                                                 headers: headers, body: write.body, status: 401, code: "UNAUTHORIZED")
                    let challenge = fixture.expectAnswered(row)?.header("WWW-Authenticate")
                    #expect(challenge == #"Basic realm="blobcache""#, "\(row): \(challenge ?? "no challenge")")
                }
            }
            // Reads and probes stay open.
            fixture.expectAnswered(.request("a pull", "GET", "/v2/a/blobs/\(fixture.digest)", status: 200))
            fixture.expectAnswered(.request("the API check", "GET", "/v2/", status: 200))
            fixture.expectAnswered(.request("the health probe", "GET", "/healthz", status: 200))
            fixture.expectNothingTouchedOutsideTheStore()
        }

        @Test func onlyTheConfiguredCredentialsWrite() throws {
            let namespace = try NetworkNamespace()
            let directory = StoreTestDirectory("e2e-authorization")
            let config = directory.file("blobcache.json")
            try Files.write(#"{"auth_token": ["\#(Self.token)"], "auth_basic": ["\#(Self.user):\#(Self.password)"]}"#, to: config)
            let fixture = try HostileServer(arguments: ["--config", config], namespace: namespace)
            let fresh = Array("stored only with a credential\n".utf8)
            for (name, headers) in Self.wrongCredentials {
                for write in Self.writes(fixture.digest, fresh: fresh, freshDigest: Digest.of(fresh)) {
                    let row = HostileRow.request("\(write.method) \(write.target.prefix(40)) with \(name)", write.method, write.target,
                                                 headers: headers, body: write.body, status: 401, code: "UNAUTHORIZED")
                    let challenges = fixture.expectAnswered(row)?.headerLines.filter { $0.lowercased().hasPrefix("www-authenticate:") }
                    #expect(challenges == [#"WWW-Authenticate: Basic realm="blobcache""#, #"WWW-Authenticate: Bearer realm="blobcache""#],
                            "\(row): \(challenges ?? [])")
                }
            }
            fixture.expectNothingTouchedOutsideTheStore()

            let bearer = "Authorization: Bearer \(Self.token)"
            let pair = "Authorization: Basic \(Self.basic("\(Self.user):\(Self.password)"))"
            fixture.expectAnswered(.request("a session with the token", "POST", "/v2/a/blobs/uploads/", headers: [bearer], status: 202))
            fixture.expectAnswered(.request("a session with the token, scheme in lowercase", "POST", "/v2/a/blobs/uploads/",
                                            headers: ["Authorization: bearer \(Self.token)"], status: 202))
            fixture.expectAnswered(.request("a PUT with the pair", "PUT", "/blobs/\(Digest.of(fresh))", headers: [pair], body: fresh, status: 201))
            #expect(Files.storedBlobs(in: fixture.directory.data) == ["\(fixture.digest)", "\(Digest.of(fresh))"].sorted())
            fixture.expectAnswered(.request("a DELETE with the token", "DELETE", "/blobs/\(Digest.of(fresh))", headers: [bearer], status: 204))
            #expect(Files.storedBlobs(in: fixture.directory.data) == ["\(fixture.digest)"])
            // Pulls stay open, and the API check takes a valid credential or none, not a wrong one.
            fixture.expectAnswered(.request("a pull without a credential", "GET", "/v2/a/blobs/\(fixture.digest)", status: 200))
            fixture.expectAnswered(.request("the API check without a credential", "GET", "/v2/", status: 200))
            fixture.expectAnswered(.request("the API check with the pair", "GET", "/v2/", headers: [pair], status: 200))
            fixture.expectAnswered(.request("the API check with a wrong token", "GET", "/v2/", headers: ["Authorization: Bearer tok-wrong"],
                                            status: 401, code: "UNAUTHORIZED"))
        }

        @Test func withPullAuthReadsNeedTheCredentialTooButProbesDoNot() throws {
            let namespace = try NetworkNamespace()
            let fixture = try HostileServer(
                arguments: ["--auth-token", Self.token, "--pull-auth"], namespace: namespace, pullHeaders: ["Authorization: Bearer \(Self.token)"])
            for (name, headers) in Self.wrongCredentials {
                for target in ["/v2/a/blobs/\(fixture.digest)", "/blobs/\(fixture.digest)", "/v2/a/tags/list", "/v2/a/manifests/v1", "/v2/"] {
                    fixture.expectAnswered(.request("GET \(target.prefix(20)) with \(name)", "GET", target, headers: headers, status: 401,
                                                    code: "UNAUTHORIZED"))
                }
            }
            let pull = fixture.expectAnswered(.request("a pull with the token", "GET", "/v2/a/blobs/\(fixture.digest)",
                                                       headers: ["Authorization: Bearer \(Self.token)"], status: 200))
            #expect(pull?.body == fixture.bytes)
            for probe in ["/healthz", "/readyz", "/metrics"] {
                fixture.expectAnswered(.request("\(probe) without a credential", "GET", probe, status: 200))
            }
        }
    }
}
