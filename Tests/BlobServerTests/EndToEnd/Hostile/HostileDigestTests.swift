import BlobStore
import Testing

extension EndToEnd {
    /// Digests the grammar refuses, on every route that takes one: uppercase hex or algorithm
    /// (OCI image spec: sha256 and sha512 are lowercase `[a-f0-9]`), too short, too long, an
    /// algorithm we do not know, no algorithm at all. Each is 400 DIGEST_INVALID, the code the
    /// OCI distribution spec gives a malformed digest, on pulls and pushes alike; never a 404
    /// that would say the blob is merely absent, and never the blob itself.
    @Suite("EndToEnd: hostile digests", .serialized)
    struct HostileDigestTests {
        static func malformed(_ digest: Digest) -> [(name: String, text: String)] {
            let hex = digest.hex
            return [
                ("uppercase hex", "sha256:" + hex.uppercased()),
                ("one uppercase hex digit", "sha256:" + hex.dropLast() + "A"),
                ("an uppercase algorithm", "SHA256:" + hex),
                ("short hex", "sha256:" + hex.prefix(10)),
                ("hex one short", "sha256:" + hex.dropLast()),
                ("hex one long", "sha256:" + hex + "0"),
                ("five thousand hex digits", "sha256:" + String(repeating: "a", count: 5000)),
                ("empty hex", "sha256:"),
                ("no algorithm", ":" + hex),
                ("no separator", hex),
                ("an unknown algorithm", "md5:" + hex.prefix(32)),
                ("sha384", "sha384:" + hex + hex.prefix(32)),
                ("sha512 with sha256's length", "sha512:" + hex),
                ("a registered-looking algorithm", "sha256+b64u:" + hex),
                ("a percent-encoded separator", "sha256%3A" + hex),
                ("a percent-encoded hex digit", "sha256:%61" + hex.dropFirst()),
            ]
        }

        static func rows(_ digest: Digest) -> [HostileRow] {
            malformed(digest).flatMap { name, text -> [HostileRow] in
                var routes: [(method: String, target: String)] = [
                    ("GET", "/v2/a/blobs/\(text)"),
                    ("GET", "/blobs/\(text)"),
                    ("GET", "/v2/a/referrers/\(text)"),
                    ("DELETE", "/v2/a/blobs/\(text)"),
                    ("PUT", "/blobs/\(text)"),
                ]
                // A manifest reference without a ':' is a tag (or no tag: MANIFEST_INVALID).
                if text.contains(":") { routes.append(("GET", "/v2/a/manifests/\(text)")) }
                // A query value is percent-decoded first, so there an encoded digest is a digest.
                if !text.contains("%") { routes.append(("POST", "/v2/a/blobs/uploads/?digest=\(text)")) }
                return routes.map { route in
                    .request("\(name) in \(route.method) \(route.target.prefix(60))", route.method, route.target,
                             body: route.method == "PUT" || route.method == "POST" ? Array("x".utf8) : [],
                             status: 400, code: "DIGEST_INVALID")
                }
            }
        }

        @Test func malformedDigestsAre400DigestInvalidOnEveryRoute() throws {
            let fixture = try HostileServer()
            for row in Self.rows(fixture.digest) {
                guard let answer = fixture.expectAnswered(row) else { continue }
                #expect(answer.body != fixture.bytes, "\(row) served the blob")
            }
            fixture.expectNothingTouchedOutsideTheStore()
        }
    }
}
