import BlobStore
import Testing

extension EndToEnd {
    /// Names, references and digests that try to leave the store, plain and percent-encoded:
    /// the router answers each with an OCI error (400 for a name, tag or digest its grammar
    /// refuses, 404 for a path that is no route), never a 200, and nothing outside the data
    /// directory is read or written.
    @Suite("EndToEnd: hostile traversal", .serialized)
    struct HostileTraversalTests {
        static func rows(_ digest: Digest) -> [HostileRow] {
            let attempts: [(method: String, target: String, status: Int, code: String)] = [
                ("GET", "/v2/../../etc/passwd/blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/../blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/a/blobs/sha256:../../x", 404, "NAME_UNKNOWN"),
                ("GET", "/v2/a/blobs/sha256:../../../../canary", 404, "NAME_UNKNOWN"),
                ("GET", "/v2/a/blobs/sha256:..", 400, "DIGEST_INVALID"),
                ("GET", "/v2/a/blobs/sha256:%2e%2e%2f%2e%2e%2fcanary", 400, "DIGEST_INVALID"),
                ("GET", "/v2/a/blobs/sha256:%252e%252e%252fcanary", 400, "DIGEST_INVALID"),
                ("GET", "/v2/a/blobs/sha256:..%5c..%5ccanary", 400, "DIGEST_INVALID"),
                ("GET", "/v2/a/blobs/sha256:%c0%ae%c0%ae%c0%afcanary", 400, "DIGEST_INVALID"),
                ("GET", "/v2/a/blobs/sha256:%00", 400, "DIGEST_INVALID"),
                ("GET", "/blobs/sha256:%2e%2e", 400, "DIGEST_INVALID"),
                ("GET", "/blobs/sha256:%2e%2e%2f%2e%2e%2fcanary", 400, "DIGEST_INVALID"),
                ("GET", "/blobs/../canary", 400, "DIGEST_INVALID"),
                ("GET", "/blobs/sha256:/../../canary", 400, "DIGEST_INVALID"),
                ("GET", "/blobs/\(digest)/../../../canary", 400, "DIGEST_INVALID"),
                ("GET", "/v2/Test/Repo/blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/a//b/blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/a%2Fb/blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/a%2f..%2f..%2fb/blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/.%2e/.%2e/blobs/\(digest)", 400, "NAME_INVALID"),
                ("GET", "/v2/%2e%2e/tags/list", 400, "NAME_INVALID"),
                ("GET", "/v2/a/tags/list?last=..%2F..%2Fcanary", 400, "UNSUPPORTED"),
                ("GET", "/v2/a/referrers/sha256:..%2F..%2Fcanary", 400, "DIGEST_INVALID"),
                ("GET", "/v2/a/manifests/..%2F..%2Fcanary", 400, "MANIFEST_INVALID"),
                ("GET", "/v2/a/manifests/..", 400, "MANIFEST_INVALID"),
                ("GET", "/v2/a/manifests/../../canary", 404, "NAME_UNKNOWN"),
                ("GET", "/v2/a/blobs/\(digest)/../../../../etc/passwd", 404, "NAME_UNKNOWN"),
                ("GET", "/v2/a/blobs/uploads/../../../canary", 404, "NAME_UNKNOWN"),
                ("GET", "http://x/../../etc/passwd", 404, "NAME_UNKNOWN"),
                ("GET", "/etc/passwd", 404, "NAME_UNKNOWN"),
                ("PUT", "/blobs/sha256:../../canary", 400, "DIGEST_INVALID"),
                ("PUT", "/blobs/sha256:..%2F..%2Fcanary", 400, "DIGEST_INVALID"),
                ("PUT", "/v2/a/manifests/..%2F..%2F..%2Fcanary", 400, "MANIFEST_INVALID"),
                ("PUT", "/v2/a/blobs/uploads/..%2F..%2Fcanary?digest=\(digest)", 404, "BLOB_UPLOAD_UNKNOWN"),
                ("DELETE", "/blobs/sha256:../../canary", 400, "DIGEST_INVALID"),
                ("DELETE", "/v2/a/blobs/sha256:..%2f..%2fcanary", 400, "DIGEST_INVALID"),
                ("DELETE", "/v2/a/manifests/..%2f..%2fcanary", 400, "MANIFEST_INVALID"),
            ]
            return attempts.map { attempt in
                let body = attempt.method == "PUT" ? Array("pwned\n".utf8) : []
                return .request("\(attempt.method) \(attempt.target)", attempt.method, attempt.target, body: body,
                                status: attempt.status, code: attempt.code)
            }
        }

        @Test func traversalAttemptsGetAnOCIErrorAndTouchNothingOutsideTheStore() throws {
            let fixture = try HostileServer()
            for row in Self.rows(fixture.digest) {
                guard let answer = fixture.expectAnswered(row) else { continue }
                #expect(answer.header("Content-Type") == "application/json", "\(row)")
                #expect(!answer.text.contains("root:"), "\(row) leaked /etc/passwd")
                #expect(!answer.text.contains("canary must"), "\(row) leaked the canary")
            }
            // A mount whose digest and source are traversals is no mount: the spec's fallback
            // is a new upload session, inside the store.
            let mount = fixture.expectAnswered(.request(
                "a mount of a traversal", "POST", "/v2/a/blobs/uploads/?mount=sha256:..%2F..%2Fcanary&from=..%2F..%2Fetc", status: 202))
            #expect(mount?.header("Location")?.hasPrefix("/v2/a/blobs/uploads/") == true, "\(mount?.headerLines ?? [])")
            fixture.expectNothingTouchedOutsideTheStore()
        }
    }
}
