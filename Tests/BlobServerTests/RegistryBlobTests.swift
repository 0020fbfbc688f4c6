import BlobStore
import TestSupport
import Testing
@testable import BlobServer

@Suite struct RegistryBlobs {
    let content = pseudoRandomBytes(count: 5000, seed: 1)
    var digest: Digest { StreamingHasher.digest(of: content) }

    @Test func theBaseEndpointAnswersWithTheAPIVersion() throws {
        let fixture = try RegistryFixture()
        for method in [HTTPMethod.get, .head] {
            let answer = fixture.send(method, "/v2/")
            #expect(answer.status == 200 && answer.route == .base)
            #expect(answer.header("Docker-Distribution-API-Version") == "registry/2.0")
            #expect(answer.bodyText == "{}")
        }
    }

    @Test func aStoredBlobIsServedByTheConnectionAndAMissIsBlobUnknown() throws {
        let fixture = try RegistryFixture()
        #expect(fixture.send(.get, "/v2/library/app/blobs/\(digest)").errorCode == "BLOB_UNKNOWN")
        try fixture.store.put(content)
        for method in [HTTPMethod.get, .head] {
            let answer = fixture.send(method, "/v2/library/app/blobs/\(digest)")
            #expect(answer.status == 200 && answer.route == .blob)
            #expect(answer.blob?.digest == digest && answer.blob?.isManifest == false)
            #expect(answer.blob?.contentType == "application/octet-stream")
        }
        // Blobs are shared: any repository name finds them.
        #expect(fixture.send(.get, "/v2/other/blobs/\(digest)").blob?.digest == digest)
    }

    @Test func deletingABlobAnswers202ThenNotFound() throws {
        let fixture = try RegistryFixture()
        try fixture.store.put(content)
        #expect(fixture.send(.delete, "/v2/library/app/blobs/\(digest)").status == 202)
        #expect(!fixture.store.contains(digest))
        let again = fixture.send(.delete, "/v2/library/app/blobs/\(digest)")
        #expect(again.status == 404 && again.errorCode == "BLOB_UNKNOWN")
    }

    @Test(arguments: [
        (HTTPMethod.post, "/v2/library/app/blobs/sha256:" + String(repeating: "a", count: 64), "GET, HEAD, DELETE"),
        (.put, "/v2/", "GET, HEAD"),
        (.delete, "/v2/x/tags/list", "GET, HEAD"),
        (.get, "/v2/x/blobs/uploads/", "POST"),
        (.options, "/blobs/sha256:" + String(repeating: "a", count: 64), "GET, HEAD, PUT, DELETE"),
        (.post, "/metrics", "GET, HEAD"),
    ])
    func anUnsupportedMethodIs405WithTheAllowedOnes(method: HTTPMethod, target: String, allow: String) throws {
        let fixture = try RegistryFixture()
        let answer = fixture.send(method, target)
        #expect(answer.status == 405 && answer.errorCode == "UNSUPPORTED")
        #expect(answer.header("Allow") == allow)
    }

    @Test(arguments: [
        ("/v2/Library/blobs/sha256:" + String(repeating: "a", count: 64), 400, "NAME_INVALID"),
        ("/v2/a/../b/blobs/sha256:" + String(repeating: "a", count: 64), 400, "NAME_INVALID"),
        ("/v2/app/blobs/sha256:abc", 400, "DIGEST_INVALID"),
        ("/v2/app/blobs/md5:" + String(repeating: "a", count: 32), 400, "DIGEST_INVALID"),
        ("/nothing/here", 404, "NAME_UNKNOWN"),
        ("/blobs/sha256:" + String(repeating: "A", count: 64), 400, "DIGEST_INVALID"),
    ])
    func badPathsAreRefusedWithTheSpecsCodes(target: String, status: Int, code: String) throws {
        let fixture = try RegistryFixture()
        let answer = fixture.send(.get, target)
        #expect(answer.status == status && answer.errorCode == code)
        #expect(answer.route == .unknown)
    }

    @Test func aMalformedQueryIs400() throws {
        let fixture = try RegistryFixture()
        let answer = fixture.send(.get, "/v2/app/tags/list?n=%zz")
        #expect(answer.status == 400 && answer.route == .tags)
    }

    @Test func casPutStoresVerifiedBytesAndAnswers201ThenOnRepeat200() throws {
        let fixture = try RegistryFixture()
        let created = fixture.send(.put, "/blobs/\(digest)", body: content, chunkSize: 777)
        #expect(created.status == 201 && created.route == .casBlob)
        #expect(created.header("Location") == "/blobs/\(digest)")
        #expect(created.header("Docker-Content-Digest") == digest.description)
        #expect(try fixture.storedBytes(digest) == content)
        #expect(fixture.send(.put, "/blobs/\(digest)", body: content).status == 200)
        let served = fixture.send(.get, "/blobs/\(digest)")
        #expect(served.blob?.digest == digest)
    }

    @Test func casPutOfTheWrongBytesIs400AndStoresNothing() throws {
        let fixture = try RegistryFixture(options: testOptions { $0.forceNamedTemporaries = true })
        var wrong = content
        wrong[2500] ^= 1
        let answer = fixture.send(.put, "/blobs/\(digest)", body: wrong, chunkSize: 1000)
        #expect(answer.status == 400 && answer.errorCode == "DIGEST_INVALID")
        #expect(!fixture.store.contains(digest))
        #expect(!fixture.store.contains(StreamingHasher.digest(of: wrong)))
        #expect(fixture.store.stats().blobs == 0 && fixture.store.stats().pendingBytes == 0)
        #expect(fixture.temporaryFiles.isEmpty)
    }

    @Test func casPutWithAChunkedBodyWorksToo() throws {
        let fixture = try RegistryFixture()
        #expect(fixture.send(.put, "/blobs/\(digest)", body: content, chunked: true, chunkSize: 100).status == 201)
        #expect(fixture.store.contains(digest))
    }

    @Test func casPutCutShortStoresNothing() throws {
        let fixture = try RegistryFixture(options: testOptions { $0.forceNamedTemporaries = true })
        #expect(fixture.send(.put, "/blobs/\(digest)", body: content, cutAfter: 2000).status == 499)
        #expect(!fixture.store.contains(digest))
        #expect(fixture.store.stats().pendingBytes == 0)
        #expect(fixture.temporaryFiles.isEmpty)
    }

    @Test func casDeleteAnswers204ThenNotFound() throws {
        let fixture = try RegistryFixture()
        try fixture.store.put(content)
        #expect(fixture.send(.delete, "/blobs/\(digest)").status == 204)
        let again = fixture.send(.delete, "/blobs/\(digest)")
        #expect(again.status == 404 && again.errorCode == "BLOB_UNKNOWN")
        #expect(fixture.send(.head, "/blobs/\(digest)").status == 404)
    }

    @Test func theNamespaceParameterIsEchoedOnEveryKindOfAnswer() throws {
        let fixture = try RegistryFixture()
        try fixture.store.put(content)
        let immediate = fixture.send(.get, "/v2/library/app/blobs/\(digest)?ns=docker.io")
        #expect(immediate.header("OCI-Namespace") == "docker.io" && immediate.blob != nil)
        let blocking = fixture.send(.delete, "/v2/library/app/blobs/\(digest)?ns=registry.example:5000")
        #expect(blocking.status == 202 && blocking.header("OCI-Namespace") == "registry.example:5000")
        let streamed = fixture.send(.put, "/blobs/\(digest)?ns=ghcr.io", body: content)
        #expect(streamed.status == 201 && streamed.header("OCI-Namespace") == "ghcr.io")
        let error = fixture.send(.get, "/v2/library/app/blobs/\(StreamingHasher.digest(of: [1]))?ns=quay.io")
        #expect(error.status == 404 && error.header("OCI-Namespace") == "quay.io")
    }

    @Test(arguments: ["", "docker io", "-bad.example", "a..b", "host:0", "host:99999", "host:12ab", "x\u{7F}"])
    func anInvalidNamespaceIs400(namespace: String) throws {
        let fixture = try RegistryFixture()
        let encoded = namespace.utf8.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return "%" + (hex.count == 1 ? "0" + hex : hex)
        }.joined()
        let answer = fixture.send(.get, "/v2/?ns=\(encoded)")
        #expect(answer.status == 400)
        #expect(answer.header("OCI-Namespace") == nil)
    }
}
