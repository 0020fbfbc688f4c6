import BlobStore
import TestSupport
import Testing
@testable import BlobServer

@Suite struct RegistryUploads {
    let content = pseudoRandomBytes(count: 3000, seed: 2)
    var digest: Digest { StreamingHasher.digest(of: content) }
    let uploads = "/v2/library/app/blobs/uploads/"

    /// Opens a session and returns its Location.
    func openSession(_ fixture: RegistryFixture) -> String {
        let answer = fixture.send(.post, uploads)
        #expect(answer.status == 202 && answer.route == .uploads)
        #expect(answer.header("Range") == "0-0")
        let location = answer.header("Location") ?? ""
        #expect(location.hasPrefix(uploads))
        #expect(answer.header("Docker-Upload-UUID") == String(location.dropFirst(uploads.count)))
        return location
    }

    @Test func aMonolithicPostStoresTheBlob() throws {
        let fixture = try RegistryFixture()
        let answer = fixture.send(.post, "\(uploads)?digest=\(digest)", body: content, chunkSize: 512)
        #expect(answer.status == 201)
        #expect(answer.header("Location") == "/v2/library/app/blobs/\(digest)")
        #expect(answer.header("Docker-Content-Digest") == digest.description)
        #expect(try fixture.storedBytes(digest) == content)
    }

    @Test func aMonolithicPostWithTheWrongDigestStoresNothing() throws {
        let fixture = try RegistryFixture(options: testOptions { $0.forceNamedTemporaries = true })
        let claimed = StreamingHasher.digest(of: [1, 2, 3])
        let answer = fixture.send(.post, "\(uploads)?digest=\(claimed)", body: content)
        #expect(answer.status == 400 && answer.errorCode == "DIGEST_INVALID")
        #expect(!fixture.store.contains(claimed) && !fixture.store.contains(digest))
        #expect(fixture.temporaryFiles.isEmpty)
        #expect(fixture.send(.post, "\(uploads)?digest=sha256:nope", body: content).errorCode == "DIGEST_INVALID")
    }

    @Test func postThenPutWithTheWholeBodyStoresTheBlob() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        let answer = fixture.send(.put, "\(location)?digest=\(digest)", body: content, chunkSize: 700)
        #expect(answer.status == 201 && answer.route == .upload)
        #expect(answer.header("Location") == "/v2/library/app/blobs/\(digest)")
        #expect(try fixture.storedBytes(digest) == content)
        #expect(fixture.send(.get, location).errorCode == "BLOB_UPLOAD_UNKNOWN")
    }

    @Test func chunkedPatchesThenAnEmptyPutStoreTheBlob() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        for (first, last) in [(0, 999), (1000, 1999), (2000, 2999)] {
            let chunk = Array(content[first...last])
            let answer = fixture.send(
                .patch, location, headers: [("Content-Range", "\(first)-\(last)")], body: chunk, chunkSize: 300)
            #expect(answer.status == 202)
            #expect(answer.header("Range") == "0-\(last)")
            #expect(answer.header("Location") == location)
            let status = fixture.send(.get, location)
            #expect(status.status == 204 && status.header("Range") == "0-\(last)")
        }
        let answer = fixture.send(.put, "\(location)?digest=\(digest)")
        #expect(answer.status == 201)
        #expect(try fixture.storedBytes(digest) == content)
    }

    @Test func patchesWithoutARangeAndAChunkedBodyAppendInOrder() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        #expect(fixture.send(.patch, location, body: Array(content[..<1234]), chunked: true, chunkSize: 100).header("Range") == "0-1233")
        let last = fixture.send(.put, "\(location)?digest=\(digest)", headers: [("Content-Range", "1234-2999")], body: Array(content[1234...]))
        #expect(last.status == 201)
        #expect(fixture.store.contains(digest))
    }

    @Test func anOutOfOrderChunkIs416WithTheCurrentRangeAndTheSessionGoesOn() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        #expect(fixture.send(.patch, location, headers: [("Content-Range", "0-999")], body: Array(content[..<1000])).status == 202)
        for range in ["1500-2499", "500-1499", "garbage", "bytes */3000"] {
            let refused = fixture.send(.patch, location, headers: [("Content-Range", range)], body: [UInt8](repeating: 1, count: 1000))
            #expect(refused.status == 416)
            #expect(refused.header("Range") == "0-999")
            #expect(refused.header("Location") == location)
        }
        #expect(fixture.send(.patch, location, headers: [("Content-Range", "1000-2999")], body: Array(content[1000...])).status == 202)
        #expect(fixture.send(.put, "\(location)?digest=\(digest)").status == 201)
    }

    @Test func aRangeThatDisagreesWithContentLengthIsSizeInvalid() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        let answer = fixture.send(.patch, location, headers: [("Content-Range", "0-99")], body: Array(content[..<50]))
        #expect(answer.status == 400 && answer.errorCode == "SIZE_INVALID")
        // Nothing was written, so the session goes on.
        #expect(fixture.send(.get, location).header("Range") == "0-0")
    }

    @Test func aChunkedBodyShorterThanItsRangeEndsTheSession() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        let short = fixture.send(.patch, location, headers: [("Content-Range", "0-999")], body: Array(content[..<600]), chunked: true)
        #expect(short.status == 400 && short.errorCode == "SIZE_INVALID")
        #expect(fixture.send(.get, location).status == 404)
        let fresh = openSession(fixture)
        let long = fixture.send(.patch, fresh, headers: [("Content-Range", "0-99")], body: Array(content[..<600]), chunked: true)
        #expect(long.status == 400 && long.errorCode == "SIZE_INVALID")
        #expect(fixture.store.stats().pendingBytes == 0)
    }

    @Test func aPutWithTheWrongDigestIs400StoresNothingAndEndsTheSession() throws {
        let fixture = try RegistryFixture(options: testOptions { $0.forceNamedTemporaries = true })
        let location = openSession(fixture)
        #expect(fixture.send(.patch, location, body: content).status == 202)
        let claimed = StreamingHasher.digest(of: [9])
        let answer = fixture.send(.put, "\(location)?digest=\(claimed)")
        #expect(answer.status == 400 && answer.errorCode == "DIGEST_INVALID")
        #expect(!fixture.store.contains(claimed) && !fixture.store.contains(digest))
        #expect(fixture.store.stats().blobs == 0)
        #expect(fixture.temporaryFiles.isEmpty)
        #expect(fixture.send(.get, location).errorCode == "BLOB_UPLOAD_UNKNOWN")
    }

    @Test func aPutWithoutAUsableDigestIs400AndKeepsTheSession() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        let sha512 = StreamingHasher.digest(of: content, using: .sha512)
        for target in [location, "\(location)?digest=nonsense", "\(location)?digest=\(sha512)"] {
            let answer = fixture.send(.put, target)
            #expect(answer.status == 400 && answer.errorCode == "DIGEST_INVALID")
        }
        #expect(fixture.send(.get, location).status == 204)
    }

    @Test func cancellingASessionForgetsIt() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        #expect(fixture.send(.patch, location, body: content).status == 202)
        #expect(fixture.send(.delete, location).status == 204)
        #expect(fixture.send(.delete, location).errorCode == "BLOB_UPLOAD_UNKNOWN")
        #expect(fixture.send(.patch, location, body: [1]).status == 404)
        #expect(fixture.store.stats().pendingBytes == 0)
    }

    @Test func unknownSessionsAndOtherRepositoriesAreBlobUploadUnknown() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        let id = location.dropFirst(uploads.count)
        for target in ["\(uploads)0123abcd", "/v2/other/blobs/uploads/\(id)", "\(uploads)NOT-HEX"] {
            let answer = fixture.send(.get, target)
            #expect(answer.status == 404 && answer.errorCode == "BLOB_UPLOAD_UNKNOWN")
        }
    }

    @Test func aSessionInUseRefusesASecondRequestAndAnAbandonedChunkKeepsWhatArrived() throws {
        let fixture = try RegistryFixture()
        let location = openSession(fixture)
        let first = fixture.start(.patch, location, body: content)
        guard case .receiveBody(let sink) = first else {
            Issue.record("a PATCH should stream its body")
            return
        }
        let second = fixture.send(.patch, location, body: [1, 2, 3])
        #expect(second.status == 409 && second.errorCode == "BLOB_UPLOAD_INVALID")
        #expect(fixture.send(.delete, location).status == 409)
        #expect(Array(content[..<1200]).withUnsafeBytes { sink.write($0) } == nil)
        sink.abandon()
        #expect(fixture.send(.get, location).header("Range") == "0-1199")
        #expect(fixture.send(.patch, location, headers: [("Content-Range", "1200-2999")], body: Array(content[1200...])).status == 202)
        #expect(fixture.send(.put, "\(location)?digest=\(digest)").status == 201)
    }

    @Test func aMountOfAStoredBlobIs201AndOfAMissingOneOpensASession() throws {
        let fixture = try RegistryFixture()
        try fixture.store.put(content)
        let mounted = fixture.send(.post, "\(uploads)?mount=\(digest)&from=library/base")
        #expect(mounted.status == 201)
        #expect(mounted.header("Location") == "/v2/library/app/blobs/\(digest)")
        #expect(mounted.header("Docker-Content-Digest") == digest.description)
        let missing = StreamingHasher.digest(of: [4, 5, 6])
        for query in ["mount=\(missing)&from=library/base", "mount=bogus&from=library/base", "mount=\(digest)&from=NOT/valid"] {
            let answer = fixture.send(.post, "\(uploads)?\(query)")
            if query.hasPrefix("mount=\(digest)") {
                #expect(answer.status == 201)
            } else {
                #expect(answer.status == 202 && answer.header("Location") != nil)
            }
        }
    }

    @Test func idleSessionsExpireOnTick() throws {
        let fixture = try RegistryFixture(uploadIdleSeconds: 30)
        let location = openSession(fixture)
        #expect(fixture.send(.patch, location, body: content).status == 202)
        fixture.handler.tick(now: fixture.now + 29)
        #expect(fixture.send(.get, location).status == 204)
        fixture.handler.tick(now: fixture.now + 30)
        #expect(fixture.send(.get, location).errorCode == "BLOB_UPLOAD_UNKNOWN")
        #expect(fixture.store.stats().pendingBytes == 0)
    }

    @Test func sessionsPastTheCapAreTooManyRequests() throws {
        let fixture = try RegistryFixture(maxUploadSessions: 2)
        _ = openSession(fixture)
        _ = openSession(fixture)
        let refused = fixture.send(.post, uploads)
        #expect(refused.status == 429 && refused.errorCode == "TOOMANYREQUESTS")
    }
}
