import BlobStore
import Glibc
import Testing
import TestSupport

extension EndToEnd {
    /// The OCI upload protocol against a real `blobcache serve`, over raw sockets so every header
    /// goes out exactly as written: chunked sessions with Content-Range, the 416 on a gap,
    /// digest checks on the closing PUT, monolithic POSTs, mounts and cancellation.
    @Suite("EndToEnd: OCI blob uploads")
    struct OCIUploadProtocolTests {
        final class Fixture {
            let directory = StoreTestDirectory("e2e-upload")
            let server: ServerProcess

            init() throws {
                server = try ServerProcess(dataDirectory: directory.data)
            }

            /// Starts a session; its Location (a path).
            func startSession(repository: String = "test/upload") throws -> String {
                let reply = try server.request("POST", "/v2/\(repository)/blobs/uploads/")
                guard reply.status == 202, let location = reply.header("Location") else {
                    throw EndToEndFailure("POST uploads/ answered \(reply.status) \(reply.text), Location \(reply.header("Location") ?? "none")")
                }
                #expect(reply.header("Range") == "0-0")
                #expect(reply.header("Docker-Upload-UUID") != nil)
                return Self.path(of: location)
            }

            /// A Location's path: absolute URLs are cut down to their path.
            static func path(of location: String) -> String {
                guard location.hasPrefix("http://") || location.hasPrefix("https://") else { return location }
                let afterScheme = location.drop { $0 != "/" }.dropFirst(2)
                return String(afterScheme.drop { $0 != "/" })
            }

            /// `target` with `?name=value` or `&name=value` appended.
            static func adding(_ query: String, to target: String) -> String {
                target + (target.contains("?") ? "&" : "?") + query
            }

            /// Files in the data directory's blob tree and temporaries.
            var storedFiles: [String] {
                Files.regularFiles(below: "\(directory.data)/blobs") + Files.regularFiles(below: "\(directory.data)/tmp")
            }
        }

        @Test func aChunkedUploadRefusesAGapWith416AndThenCompletes() throws {
            let fixture = try Fixture()
            let server = fixture.server
            let bytes = pseudoRandomBytes(count: 3000, seed: 31)
            let digest = Digest.of(bytes)
            let session = try fixture.startSession()

            let first = try server.request("PATCH", session, headers: ["Content-Type: application/octet-stream", "Content-Range: 0-999"], body: Array(bytes[0..<1000]))
            #expect(first.status == 202, "first chunk: \(first.status) \(first.text)")
            #expect(first.header("Range") == "0-999")
            let next = first.header("Location").map(Fixture.path) ?? session

            let gap = try server.request("PATCH", next, headers: ["Content-Type: application/octet-stream", "Content-Range: 2000-2999"], body: Array(bytes[2000..<3000]))
            #expect(gap.status == 416, "a chunk past the session's end: \(gap.status) \(gap.text)")
            #expect(gap.header("Range") == "0-999", "the 416 must say where the session is")

            let status = try server.request("GET", next)
            #expect(status.status == 204)
            #expect(status.header("Range") == "0-999", "the refused chunk must not have been written")

            let second = try server.request("PATCH", next, headers: ["Content-Type: application/octet-stream", "Content-Range: 1000-2999"], body: Array(bytes[1000..<3000]))
            #expect(second.status == 202, "second chunk: \(second.status) \(second.text)")
            #expect(second.header("Range") == "0-2999")
            let last = second.header("Location").map(Fixture.path) ?? next

            let close = try server.request("PUT", Fixture.adding("digest=\(digest)", to: last))
            #expect(close.status == 201, "closing PUT: \(close.status) \(close.text)")
            #expect(close.header("Docker-Content-Digest") == digest.description)
            #expect(close.header("Location") != nil)

            let get = try server.request("GET", "/v2/test/upload/blobs/\(digest)")
            #expect(get.status == 200)
            #expect(get.body == bytes)
            // The session is over.
            #expect(try server.request("GET", last).status == 404)
        }

        @Test func aChunkedTransferEncodingPatchWithoutContentRangeAppends() throws {
            let fixture = try Fixture()
            let bytes = pseudoRandomBytes(count: 70_000, seed: 32)
            let digest = Digest.of(bytes)
            let session = try fixture.startSession()
            let client = try fixture.server.client()
            var request = Array("PATCH \(session) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8)
            for start in stride(from: 0, to: bytes.count, by: 30_000) {
                let chunk = bytes[start..<min(bytes.count, start + 30_000)]
                request += Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + Array("\r\n".utf8)
            }
            request += Array("0\r\n\r\n".utf8)
            try client.send(request)
            let patch = try client.readReply()
            #expect(patch.status == 202, "\(patch.status) \(patch.text)")
            #expect(patch.header("Range") == "0-69999")
            let close = try fixture.server.request("PUT", Fixture.adding("digest=\(digest)", to: patch.header("Location").map(Fixture.path) ?? session))
            #expect(close.status == 201)
            #expect(try fixture.server.request("GET", "/blobs/\(digest)").body == bytes)
        }

        @Test func aClosingPutWithTheWrongDigestIs400AndStoresNothing() throws {
            let fixture = try Fixture()
            let server = fixture.server
            let bytes = pseudoRandomBytes(count: 5000, seed: 33)
            let wrong = Digest.of(Array("not these bytes".utf8))
            let before = fixture.storedFiles
            let session = try fixture.startSession()
            let patch = try server.request("PATCH", session, headers: ["Content-Range: 0-4999"], body: bytes)
            #expect(patch.status == 202)
            let close = try server.request("PUT", Fixture.adding("digest=\(wrong)", to: patch.header("Location").map(Fixture.path) ?? session))
            #expect(close.status == 400, "\(close.status) \(close.text)")
            #expect(close.text.contains("\"DIGEST_INVALID\""), "body: \(close.text)")

            #expect(try server.request("GET", "/v2/test/upload/blobs/\(wrong)").status == 404)
            #expect(try server.request("GET", "/v2/test/upload/blobs/\(Digest.of(bytes))").status == 404)
            #expect(try server.request("HEAD", "/blobs/\(wrong)").status == 404)
            #expect(fixture.storedFiles == before, "a refused upload left files: \(fixture.storedFiles)")
        }

        @Test func aClosingPutWithAMalformedOrMissingDigestIs400() throws {
            let fixture = try Fixture()
            let session = try fixture.startSession()
            let missing = try fixture.server.request("PUT", session)
            #expect(missing.status == 400)
            #expect(missing.text.contains("\"DIGEST_INVALID\""))
            let malformed = try fixture.server.request("PUT", Fixture.adding("digest=sha256:xyz", to: session))
            #expect(malformed.status == 400)
            #expect(malformed.text.contains("\"DIGEST_INVALID\""))
        }

        @Test func aMonolithicPostWithDigestStoresTheBlobInOneRequest() throws {
            let fixture = try Fixture()
            let server = fixture.server
            let bytes = pseudoRandomBytes(count: 40_000, seed: 34)
            let digest = Digest.of(bytes)
            let post = try server.request("POST", "/v2/test/mono/blobs/uploads/?digest=\(digest)", headers: ["Content-Type: application/octet-stream"], body: bytes)
            #expect(post.status == 201, "\(post.status) \(post.text)")
            #expect(post.header("Docker-Content-Digest") == digest.description)
            #expect(post.header("Location") == "/v2/test/mono/blobs/\(digest)")
            let get = try server.request("GET", "/v2/test/mono/blobs/\(digest)")
            #expect(get.status == 200)
            #expect(get.body == bytes)

            let before = fixture.storedFiles
            let liar = Digest.of(Array("claimed".utf8))
            let refused = try server.request("POST", "/v2/test/mono/blobs/uploads/?digest=\(liar)", body: bytes.reversed())
            #expect(refused.status == 400)
            #expect(refused.text.contains("\"DIGEST_INVALID\""))
            #expect(try server.request("GET", "/v2/test/mono/blobs/\(liar)").status == 404)
            #expect(fixture.storedFiles == before)
        }

        @Test func aMountOfAStoredBlobIs201() throws {
            let fixture = try Fixture()
            let bytes = pseudoRandomBytes(count: 1000, seed: 35)
            let digest = Digest.of(bytes)
            #expect(try fixture.server.request("PUT", "/blobs/\(digest)", body: bytes).status == 201)
            let mount = try fixture.server.request("POST", "/v2/other/repo/blobs/uploads/?mount=\(digest)&from=test/upload")
            #expect(mount.status == 201, "\(mount.status) \(mount.text)")
            #expect(mount.header("Docker-Content-Digest") == digest.description)
            #expect(try fixture.server.request("GET", "/v2/other/repo/blobs/\(digest)").body == bytes)
        }

        @Test func aCancelledSessionIsGone() throws {
            let fixture = try Fixture()
            let server = fixture.server
            let before = fixture.storedFiles
            let session = try fixture.startSession()
            let patch = try server.request("PATCH", session, headers: ["Content-Range: 0-99"], body: pseudoRandomBytes(count: 100, seed: 36))
            #expect(patch.status == 202)
            let cancel = try server.request("DELETE", session)
            #expect(cancel.status == 204, "\(cancel.status) \(cancel.text)")
            let status = try server.request("GET", session)
            #expect(status.status == 404)
            #expect(status.text.contains("\"BLOB_UPLOAD_UNKNOWN\""))
            let again = try server.request("PATCH", session, headers: ["Content-Range: 100-199"], body: pseudoRandomBytes(count: 100, seed: 37))
            #expect(again.status == 404)
            #expect(fixture.storedFiles == before)
        }

        @Test func anUnknownSessionIs404() throws {
            let fixture = try Fixture()
            let reply = try fixture.server.request("GET", "/v2/test/upload/blobs/uploads/0123456789abcdef")
            #expect(reply.status == 404)
            #expect(reply.text.contains("\"BLOB_UPLOAD_UNKNOWN\""))
        }
    }
}
