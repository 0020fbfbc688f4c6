import BlobStore
import Testing

extension EndToEnd {
    /// Upload sessions that do not exist: ids never handed out, ids in a shape we never make,
    /// traversals, and a real session addressed through another repository. Every method a
    /// session takes answers 404 BLOB_UPLOAD_UNKNOWN, nothing is stored, and the real session
    /// is untouched.
    @Suite("EndToEnd: hostile upload sessions", .serialized)
    struct HostileUploadSessionTests {
        static let unknownIDs = [
            "deadbeef",
            "0123456789abcdef0123456789abcdef",
            "-",
            String(repeating: "f", count: 64),
            String(repeating: "a", count: 65),
            "ZZZ",
            "a.b",
            "%2e%2e",
            "..%2F..%2Fcanary",
            "..%252F..%252Fcanary",
            "%00",
            "%0d%0aX-Injected:%201",
        ]

        static func rows(_ digest: Digest) -> [HostileRow] {
            unknownIDs.flatMap { id -> [HostileRow] in
                let target = "/v2/a/blobs/uploads/\(id)"
                return [
                    .request("GET \(id)", "GET", target, status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                    .request("PATCH \(id)", "PATCH", target, headers: ["Content-Range: 0-4"], body: Array("hello".utf8),
                             status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                    .request("PUT \(id)", "PUT", target + "?digest=\(digest)", body: Array("hello".utf8), status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                    .request("DELETE \(id)", "DELETE", target, status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                ]
            }
        }

        @Test func everyMethodOnAnUnknownSessionIs404BlobUploadUnknown() throws {
            let fixture = try HostileServer()
            for row in Self.rows(fixture.digest) { fixture.expectAnswered(row) }
            fixture.expectNothingTouchedOutsideTheStore()
        }

        @Test func aRealSessionIsUnknownElsewhereAndOutlivesAnImpossibleChunk() throws {
            let fixture = try HostileServer()
            let started = try fixture.request("POST", "/v2/mine/blobs/uploads/")
            let location = try #require(started.header("Location"), "POST answered \(started.status)")
            let theirs = location.replacing("/v2/mine/", with: "/v2/theirs/")
            for row: HostileRow in [
                .request("GET through another repository", "GET", theirs, status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                .request("PATCH through another repository", "PATCH", theirs, body: Array("hello".utf8), status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                .request("PUT through another repository", "PUT", theirs + "?digest=\(fixture.digest)", body: fixture.bytes,
                         status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
                .request("DELETE through another repository", "DELETE", theirs, status: 404, code: "BLOB_UPLOAD_UNKNOWN"),
            ] {
                fixture.expectAnswered(row)
            }
            // A chunk no file could hold is refused before a byte is taken, and the session is
            // released, not left busy.
            fixture.expectAnswered(HostileRow(
                "a chunk of 2^64 - 1 bytes", "PATCH \(location) HTTP/1.1\r\nHost: x\r\nContent-Length: \(UInt64.max)\r\n\r\nhello", 413,
                code: "SIZE_INVALID"))
            // Still there, still empty, in its own repository.
            let status = try fixture.request("GET", location)
            #expect(status.status == 204 && status.header("Range") == "0-0", "\(status.status) \(status.headers)")
        }
    }
}
