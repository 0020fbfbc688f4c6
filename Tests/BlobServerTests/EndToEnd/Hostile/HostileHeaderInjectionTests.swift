import BlobStore
import Testing

extension EndToEnd {
    /// CR and LF, plain or percent-encoded, and the Unicode line breaks some clients honour,
    /// put into every value the server could echo in a response field: the repository name and
    /// reference (`Location`), the session id (`Location`, `Docker-Upload-UUID`), digests
    /// (`Location`, `Docker-Content-Digest`), `ns` (`OCI-Namespace`, `Link`), `n`, `last` and
    /// `artifactType` (`Link`), `mount` and `from` (`Location`), a chunk's `Content-Range`
    /// (`Range`), the manifest's media type (`Content-Type`), the target's authority and
    /// `Host`. Whatever the status, the response head, read as raw bytes, never holds a forged
    /// field or any trace of one.
    @Suite("EndToEnd: hostile header injection", .serialized)
    struct HostileHeaderInjectionTests {
        /// What is injected, and whether it decodes to a control character (a query value with
        /// one is refused as a whole: 400 UNSUPPORTED) or to other text (left to each value's
        /// own grammar).
        static let payloads: [(text: String, decodesToControl: Bool)] = [
            ("%0d%0aX-Injected:%20yes", true),
            ("%0aX-Injected:%20yes", true),
            ("%0dX-Injected:%20yes", true),
            ("%0D%0A%0D%0AX-Injected:%20yes", true),
            ("%E2%80%A8X-Injected:%20yes", false),  // U+2028 LINE SEPARATOR
            ("%C2%85X-Injected:%20yes", false),  // U+0085 NEXT LINE
            ("%5Cr%5CnX-Injected:%20yes", false),  // a literal \r\n
        ]

        /// A way into a response field: the request carrying `payload`, and its status when the
        /// payload decodes to a control character, and when it does not.
        struct Vector {
            let name: String
            let request: (_ payload: String) -> (method: String, target: String, headers: [String], body: [UInt8])
            let statusWithControl: Int
            let statusOtherwise: Int
        }

        static func vectors(digest: Digest, session: String) -> [Vector] {
            let manifest = Array(#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(digest)","size":4096},"layers":[]}"#.utf8)
            return [
                Vector(name: "the repository name", request: { ("POST", "/v2/a\($0)/blobs/uploads/", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "the tag", request: { ("PUT", "/v2/a/manifests/v1\($0)", ["Content-Type: application/vnd.oci.image.manifest.v1+json"], manifest) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "the session id", request: { ("PATCH", "/v2/a/blobs/uploads/\(session)\($0)", [], Array("hello".utf8)) },
                       statusWithControl: 404, statusOtherwise: 404),
                Vector(name: "the digest in the path", request: { ("GET", "/v2/a/blobs/\(digest)\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "ns", request: { ("GET", "/v2/a/blobs/\(digest)?ns=docker.io\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "ns on a tag list", request: { ("GET", "/v2/a/tags/list?n=1&ns=docker.io\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "last on a tag list", request: { ("GET", "/v2/a/tags/list?n=1&last=v1\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "n on a tag list", request: { ("GET", "/v2/a/tags/list?n=1\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "artifactType", request: { ("GET", "/v2/a/referrers/\(digest)?artifactType=application/x\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 200),
                Vector(name: "last on referrers", request: { ("GET", "/v2/a/referrers/\(digest)?last=\(digest)\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                // An unusable mount is no mount: a new session, as the spec says.
                Vector(name: "mount", request: { ("POST", "/v2/a/blobs/uploads/?mount=\(digest)\($0)&from=b", [], []) },
                       statusWithControl: 400, statusOtherwise: 202),
                // Blobs are shared, so `from` is not needed: the mount succeeds.
                Vector(name: "from", request: { ("POST", "/v2/a/blobs/uploads/?mount=\(digest)&from=b\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 201),
                Vector(name: "the monolithic digest", request: { ("POST", "/v2/a/blobs/uploads/?digest=\(digest)\($0)", [], Array("x".utf8)) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "the closing digest", request: { ("PUT", "/v2/a/blobs/uploads/\(session)?digest=\(digest)\($0)", [], []) },
                       statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "a chunk's Content-Range", request: { ("PATCH", "/v2/a/blobs/uploads/\(session)", ["Content-Range: 0-4\($0)"], Array("hello".utf8)) },
                       statusWithControl: 416, statusOtherwise: 416),
                Vector(name: "the manifest's Content-Type", request: {
                    ("PUT", "/v2/a/manifests/v1", ["Content-Type: application/vnd.oci.image.manifest.v1+json\($0)"], manifest)
                }, statusWithControl: 400, statusOtherwise: 400),
                Vector(name: "the target's authority", request: { ("GET", "http://x\($0)/v2/", [], []) },
                       statusWithControl: 200, statusOtherwise: 200),
                Vector(name: "Host", request: { ("GET", "/v2/", ["X-Forwarded-Host: x\($0)", "Forwarded: host=x\($0)"], []) },
                       statusWithControl: 200, statusOtherwise: 200),
            ]
        }

        @Test func noEchoedValueForgesAResponseField() throws {
            let fixture = try HostileServer()
            let started = try fixture.request("POST", "/v2/a/blobs/uploads/")
            let location = try #require(started.header("Location"), "POST answered \(started.status)")
            let session = String(location.split(separator: "/").last ?? "")
            for vector in Self.vectors(digest: fixture.digest, session: session) {
                for payload in Self.payloads {
                    let request = vector.request(payload.text)
                    let row = HostileRow.request(
                        "\(payload.text.prefix(12)) in \(vector.name)", request.method, request.target, headers: request.headers, body: request.body,
                        status: payload.decodesToControl ? vector.statusWithControl : vector.statusOtherwise)
                    guard let answer = fixture.expectAnswered(row) else { continue }
                    Self.expectNoForgedField(answer, row)
                }
            }
            // A media type with a line break inside the manifest's JSON is no media type either.
            let forged = Array(#"{"schemaVersion":2,"mediaType":"application/x\r\nX-Injected: yes","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(fixture.digest)","size":4096},"layers":[]}"#.utf8)
            let refused = fixture.expectAnswered(.request("a line break in mediaType", "PUT", "/v2/a/manifests/v1", body: forged,
                                                          status: 400, code: "MANIFEST_INVALID"))
            refused.map { Self.expectNoForgedField($0, "a line break in mediaType") }
            // None of the refused manifests was kept under the tag.
            fixture.expectAnswered(.request("the tag afterwards", "GET", "/v2/a/manifests/v1", status: 404, code: "MANIFEST_UNKNOWN"))
        }

        /// Every line of the head is `name: value` with a token name and no CR, LF or other
        /// control character in it, and nothing of the payload appears anywhere in the head.
        static func expectNoForgedField(_ answer: HostileExchange, _ row: some CustomStringConvertible) {
            guard let head = answer.head else { return }
            let text = String(decoding: head, as: UTF8.self)
            #expect(!text.lowercased().contains("injected"), "\(row): the payload is in the head:\n\(text)")
            for line in answer.headerLines {
                let fine = line.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
                let name = line.prefix { $0 != ":" }
                #expect(fine && !name.isEmpty && name.count < line.count && !name.contains(" "), "\(row): a malformed field line: \(line.debugDescription)")
            }
        }
    }
}
