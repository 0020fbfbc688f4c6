import BlobStore
import TestSupport
import Testing
@testable import BlobServer

@Suite struct RegistryManifests {
    static let imageType = "application/vnd.oci.image.manifest.v1+json"
    let manifest = imageManifest(annotations: ["org.example": "one"])
    var digest: Digest { StreamingHasher.digest(of: manifest) }

    @Test func aManifestPushedByTagIsServedByTagAndDigestWithItsExactBytesAndMediaType() throws {
        let fixture = try RegistryFixture()
        let pushed = fixture.send(.put, "/v2/library/app/manifests/v1", headers: [("Content-Type", Self.imageType)], body: manifest, chunkSize: 50)
        #expect(pushed.status == 201 && pushed.route == .manifest)
        #expect(pushed.header("Location") == "/v2/library/app/manifests/\(digest)")
        #expect(pushed.header("Docker-Content-Digest") == digest.description)
        #expect(pushed.header("OCI-Subject") == nil)
        for reference in ["v1", digest.description] {
            for method in [HTTPMethod.get, .head] {
                let served = fixture.send(method, "/v2/library/app/manifests/\(reference)")
                #expect(served.status == 200)
                #expect(served.blob?.digest == digest && served.blob?.isManifest == true)
                #expect(served.blob?.contentType == Self.imageType)
            }
        }
        #expect(try fixture.storedBytes(digest) == manifest)
    }

    @Test func theMediaTypeFieldWinsOverContentTypeWhichServesWhenThereIsNone() throws {
        let fixture = try RegistryFixture()
        fixture.send(.put, "/v2/app/manifests/a", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: manifest)
        #expect(fixture.send(.get, "/v2/app/manifests/a").blob?.contentType == Self.imageType)
        let bare = imageManifest(mediaType: nil)
        let custom = "application/vnd.docker.distribution.manifest.v2+json"
        #expect(fixture.send(.put, "/v2/app/manifests/b", headers: [("Content-Type", "\(custom); charset=utf-8")], body: bare).status == 201)
        #expect(fixture.send(.get, "/v2/app/manifests/b").blob?.contentType == custom)
        let neither = fixture.send(.put, "/v2/app/manifests/c", body: imageManifest(annotations: ["x": "y"], mediaType: nil))
        #expect(neither.status == 400 && neither.errorCode == "MANIFEST_INVALID")
    }

    @Test func aPushByDigestMustMatchTheBytes() throws {
        let fixture = try RegistryFixture()
        #expect(fixture.send(.put, "/v2/app/manifests/\(digest)", body: manifest).status == 201)
        #expect(fixture.send(.get, "/v2/app/manifests/\(digest)").blob?.digest == digest)
        let other = imageManifest(annotations: ["org.example": "two"])
        let refused = fixture.send(.put, "/v2/app/manifests/\(digest)", body: other)
        #expect(refused.status == 400 && refused.errorCode == "DIGEST_INVALID")
        #expect(!fixture.store.contains(StreamingHasher.digest(of: other)))
    }

    @Test(arguments: [
        "not json at all",
        "",
        "[1,2,3]",
        #"{"mediaType": 5}"#,
        #"{"mediaType": "application/vnd.oci.image.manifest.v1+json\r\nX-Injected: 1"}"#,
        #"{"mediaType": "application/vnd.oci.image.manifest.v1+json", "subject": {"digest": "sha256:short"}}"#,
        #"{"mediaType": "application/vnd.oci.image.manifest.v1+json", "annotations": {"a": 1}}"#,
        #"{"mediaType": "application/vnd.oci.image.manifest.v1+json",}"#,
        String(repeating: "[", count: 100),
    ])
    func garbageIsManifestInvalidAndNothingIsStored(text: String) throws {
        let fixture = try RegistryFixture(options: testOptions { $0.forceNamedTemporaries = true })
        let body = Array(text.utf8)
        let answer = fixture.send(.put, "/v2/app/manifests/latest", headers: [("Content-Type", Self.imageType)], body: body)
        #expect(answer.status == 400 && answer.errorCode == "MANIFEST_INVALID")
        #expect(!fixture.store.contains(StreamingHasher.digest(of: body)))
        #expect(fixture.temporaryFiles.isEmpty)
        #expect(fixture.send(.get, "/v2/app/manifests/latest").errorCode == "MANIFEST_UNKNOWN")
    }

    @Test func aManifestWithTooManyValuesIsRefusedNotParsedWhole() throws {
        let fixture = try RegistryFixture()
        let body = Array(("[" + Array(repeating: "1", count: 200_000).joined(separator: ",") + "]").utf8)
        let answer = fixture.send(.put, "/v2/app/manifests/latest", body: body)
        #expect(answer.status == 400 && answer.errorCode == "MANIFEST_INVALID")
    }

    @Test func aManifestOverFourMebibytesIs413() throws {
        let fixture = try RegistryFixture()
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: ManifestDocument.maxBytes + 1)
        let declared = fixture.send(.put, "/v2/app/manifests/big", body: huge)
        #expect(declared.status == 413 && declared.errorCode == "SIZE_INVALID")
        let streamed = fixture.send(.put, "/v2/app/manifests/big", body: huge, chunked: true, chunkSize: 1 << 20)
        #expect(streamed.status == 413)
        #expect(fixture.store.stats().blobs == 0 && fixture.store.stats().pendingBytes == 0)
    }

    @Test func unknownManifestsAndEvictedOnesAreManifestUnknown() throws {
        let fixture = try RegistryFixture()
        #expect(fixture.send(.get, "/v2/app/manifests/nope").errorCode == "MANIFEST_UNKNOWN")
        #expect(fixture.send(.get, "/v2/app/manifests/\(digest)").errorCode == "MANIFEST_UNKNOWN")
        fixture.send(.put, "/v2/app/manifests/v1", body: manifest)
        // Repositories do not see each other's manifests, even though the bytes are shared.
        #expect(fixture.send(.get, "/v2/other/manifests/\(digest)").errorCode == "MANIFEST_UNKNOWN")
        try fixture.store.remove(digest)
        for reference in ["v1", digest.description] {
            let answer = fixture.send(.get, "/v2/app/manifests/\(reference)")
            #expect(answer.status == 404 && answer.errorCode == "MANIFEST_UNKNOWN")
        }
    }

    @Test func deletingATagLeavesTheManifestAndDeletingTheManifestDropsItsTags() throws {
        let fixture = try RegistryFixture()
        fixture.send(.put, "/v2/app/manifests/v1", body: manifest)
        fixture.send(.put, "/v2/app/manifests/latest", body: manifest)
        fixture.send(.put, "/v2/app/manifests/stable", body: manifest)
        let other = imageManifest(config: "application/vnd.example+json")
        fixture.send(.put, "/v2/app/manifests/other", body: other)
        #expect(fixture.send(.delete, "/v2/app/manifests/v1").status == 202)
        #expect(fixture.send(.get, "/v2/app/manifests/v1").status == 404)
        #expect(fixture.send(.get, "/v2/app/manifests/\(digest)").status == 200)
        #expect(fixture.send(.delete, "/v2/app/manifests/v1").errorCode == "MANIFEST_UNKNOWN")
        #expect(fixture.send(.delete, "/v2/app/manifests/\(digest)").status == 202)
        #expect(fixture.send(.get, "/v2/app/manifests/latest").status == 404)
        #expect(fixture.send(.get, "/v2/app/manifests/\(digest)").status == 404)
        #expect(fixture.send(.delete, "/v2/app/manifests/\(digest)").status == 404)
        #expect(fixture.send(.get, "/v2/app/tags/list").json?["tags"] == .array([.string("other")]))
        // The bytes stay in the shared store.
        #expect(fixture.store.contains(digest))
    }

    @Test func retaggingPointsTheTagAtTheNewManifest() throws {
        let fixture = try RegistryFixture()
        fixture.send(.put, "/v2/app/manifests/latest", body: manifest)
        let next = imageManifest(annotations: ["org.example": "two"])
        fixture.send(.put, "/v2/app/manifests/latest", body: next)
        #expect(fixture.send(.get, "/v2/app/manifests/latest").blob?.digest == StreamingHasher.digest(of: next))
    }

    @Test func tagsAndManifestsSurviveANewHandlerAndAReopenedStore() throws {
        let fixture = try RegistryFixture()
        fixture.send(.put, "/v2/library/app/manifests/v1", body: manifest)
        try fixture.recreateHandler()
        #expect(fixture.send(.get, "/v2/library/app/manifests/v1").blob?.digest == digest)
        try fixture.store.close()
        let reopened = try BlobStore(directory: fixture.directory.data, options: testOptions())
        defer { try? reopened.close() }
        let handler = try RegistryHandler(store: reopened, configuration: .defaults, metrics: ServerMetrics(loops: 1))
        let head = HTTPRequestHead(method: .get, path: "/v2/library/app/manifests/v1")
        let answer = RegistryFixture.play(handler.handle(RequestContext(head: head, listenerIsLoopback: true, now: 0)).1, body: [], chunkSize: 1)
        guard case .blob(let served, let type, true) = answer.body else {
            Issue.record("expected the manifest blob, got \(answer.status)")
            return
        }
        #expect(served == digest && type == Self.imageType)
    }
}
