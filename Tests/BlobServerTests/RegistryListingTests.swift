import BlobStore
import TestSupport
import Testing
@testable import BlobServer

@Suite struct RegistryTagListing {
    /// A repository tagged with `tags`, all pointing at one manifest.
    func fixture(tags: [String]) throws -> RegistryFixture {
        let fixture = try RegistryFixture()
        for tag in tags { #expect(fixture.send(.put, "/v2/library/app/manifests/\(tag)", body: imageManifest()).status == 201) }
        return fixture
    }

    func tags(_ answer: TestResponse) -> [String] {
        guard case .array(let values)? = answer.json?["tags"] else { return [] }
        return values.compactMap(\.stringValue)
    }

    @Test func tagsAreListedInLexicalOrder() throws {
        let fixture = try fixture(tags: ["v2", "latest", "V1", "1.0", "_x", "a-b"])
        let answer = fixture.send(.get, "/v2/library/app/tags/list")
        #expect(answer.status == 200 && answer.route == .tags)
        #expect(answer.json?["name"]?.stringValue == "library/app")
        #expect(tags(answer) == ["1.0", "V1", "_x", "a-b", "latest", "v2"])
        #expect(answer.header("Link") == nil)
    }

    @Test func nPagesThroughTheTagsWithALinkToTheNextPage() throws {
        let names = (0..<7).map { "t\($0)" }
        let fixture = try fixture(tags: names)
        var target = "/v2/library/app/tags/list?n=3"
        var seen: [String] = []
        var pages = 0
        while pages < 10 {
            let answer = fixture.send(.get, target)
            seen += tags(answer)
            pages += 1
            guard let link = answer.header("Link") else { break }
            #expect(link.hasSuffix(#">; rel="next""#))
            target = String(link.dropFirst().prefix { $0 != ">" })
        }
        #expect(seen == names && pages == 3)
        let after = fixture.send(.get, "/v2/library/app/tags/list?last=t4")
        #expect(tags(after) == ["t5", "t6"])
    }

    @Test func nZeroIsAnEmptyListWithoutALink() throws {
        let fixture = try fixture(tags: ["a", "b"])
        let answer = fixture.send(.get, "/v2/library/app/tags/list?n=0")
        #expect(answer.status == 200 && tags(answer).isEmpty && answer.header("Link") == nil)
    }

    @Test func aHugeNIsCappedAndTheCapIsPaged() throws {
        let fixture = try fixture(tags: ["a", "b"])
        let answer = fixture.send(.get, "/v2/library/app/tags/list?n=99999999999999999999999")
        #expect(answer.status == 200 && tags(answer) == ["a", "b"])
    }

    @Test func theLinkKeepsTheNamespace() throws {
        let fixture = try fixture(tags: ["a", "b"])
        let answer = fixture.send(.get, "/v2/library/app/tags/list?n=1&ns=docker.io")
        #expect(answer.header("Link") == #"</v2/library/app/tags/list?n=1&last=a&ns=docker.io>; rel="next""#)
    }

    @Test(arguments: ["n=-1", "n=abc", "n=", "n=1.5", "last=bad%2Ftag", "last=.dot"])
    func badPaginationParametersAre400(query: String) throws {
        let fixture = try fixture(tags: ["a"])
        #expect(fixture.send(.get, "/v2/library/app/tags/list?\(query)").status == 400)
    }

    @Test func anUnknownRepositoryIsNameUnknown() throws {
        let fixture = try RegistryFixture()
        let answer = fixture.send(.get, "/v2/nobody/tags/list")
        #expect(answer.status == 404 && answer.errorCode == "NAME_UNKNOWN")
    }

    @Test func aRepositoryWhoseTagsAreAllGoneListsNone() throws {
        let fixture = try fixture(tags: ["only"])
        #expect(fixture.send(.delete, "/v2/library/app/manifests/only").status == 202)
        let answer = fixture.send(.get, "/v2/library/app/tags/list")
        #expect(answer.status == 200 && tags(answer).isEmpty)
    }
}

@Suite struct RegistryReferrers {
    static let indexType = "application/vnd.oci.image.index.v1+json"
    let subjectManifest = imageManifest()
    var subject: Digest { StreamingHasher.digest(of: subjectManifest) }

    func descriptors(_ answer: TestResponse) -> [JSONValue] {
        guard case .array(let values)? = answer.json?["manifests"] else { return [] }
        return values
    }

    @Test func referrersAreListedWithTheirArtifactTypeAndAnnotations() throws {
        let fixture = try RegistryFixture()
        fixture.send(.put, "/v2/app/manifests/v1", body: subjectManifest)
        let signature = imageManifest(subject: subject, artifactType: "application/vnd.example.sig", annotations: ["org.example.k": "v"])
        let sbom = imageManifest(config: "application/vnd.example.sbom", subject: subject)
        let pushed = fixture.send(.put, "/v2/app/manifests/\(StreamingHasher.digest(of: signature))", body: signature)
        #expect(pushed.status == 201 && pushed.header("OCI-Subject") == subject.description)
        #expect(fixture.send(.put, "/v2/app/manifests/sbom", body: sbom).header("OCI-Subject") == subject.description)

        let answer = fixture.send(.get, "/v2/app/referrers/\(subject)")
        #expect(answer.status == 200 && answer.route == .referrers)
        #expect(answer.contentType == Self.indexType)
        #expect(answer.json?["schemaVersion"] == .number("2") && answer.json?["mediaType"]?.stringValue == Self.indexType)
        let listed = descriptors(answer)
        #expect(listed.count == 2)
        let byDigest = Dictionary(uniqueKeysWithValues: listed.map { ($0["digest"]?.stringValue ?? "", $0) })
        let signatureEntry = byDigest[StreamingHasher.digest(of: signature).description]
        #expect(signatureEntry?["artifactType"]?.stringValue == "application/vnd.example.sig")
        #expect(signatureEntry?["annotations"]?["org.example.k"]?.stringValue == "v")
        #expect(signatureEntry?["size"] == .number(String(signature.count)))
        #expect(signatureEntry?["mediaType"]?.stringValue == "application/vnd.oci.image.manifest.v1+json")
        #expect(byDigest[StreamingHasher.digest(of: sbom).description]?["artifactType"]?.stringValue == "application/vnd.example.sbom")
        #expect(answer.header("OCI-Filters-Applied") == nil)

        let filtered = fixture.send(.get, "/v2/app/referrers/\(subject)?artifactType=application%2Fvnd.example.sig")
        #expect(descriptors(filtered).count == 1)
        #expect(filtered.header("OCI-Filters-Applied") == "artifactType")
    }

    @Test func aSubjectWithoutReferrersIsAnEmptyIndexNotA404() throws {
        let fixture = try RegistryFixture()
        let answer = fixture.send(.get, "/v2/never/referrers/\(subject)")
        #expect(answer.status == 200 && descriptors(answer).isEmpty)
        #expect(fixture.send(.get, "/v2/app/referrers/sha256:zz").status == 400)
    }

    @Test func deletedOrEvictedReferrersAreNoLongerListed() throws {
        let fixture = try RegistryFixture()
        let first = imageManifest(subject: subject, annotations: ["n": "1"])
        let second = imageManifest(subject: subject, annotations: ["n": "2"])
        fixture.send(.put, "/v2/app/manifests/a", body: first)
        fixture.send(.put, "/v2/app/manifests/b", body: second)
        #expect(descriptors(fixture.send(.get, "/v2/app/referrers/\(subject)")).count == 2)
        #expect(fixture.send(.delete, "/v2/app/manifests/\(StreamingHasher.digest(of: first))").status == 202)
        try fixture.store.remove(StreamingHasher.digest(of: second))
        #expect(descriptors(fixture.send(.get, "/v2/app/referrers/\(subject)")).isEmpty)
    }

    @Test func manyReferrersArePagedWithALink() throws {
        let fixture = try RegistryFixture()
        let count = RegistryHandler.maxReferrersPerPage + 3
        for index in 0..<count {
            let body = imageManifest(subject: subject, annotations: ["n": String(index)])
            #expect(fixture.send(.put, "/v2/app/manifests/\(StreamingHasher.digest(of: body))", body: body).status == 201)
        }
        let first = fixture.send(.get, "/v2/app/referrers/\(subject)")
        #expect(descriptors(first).count == RegistryHandler.maxReferrersPerPage)
        guard let link = first.header("Link") else {
            Issue.record("a full page should link to the next")
            return
        }
        let second = fixture.send(.get, String(link.dropFirst().prefix { $0 != ">" }))
        #expect(descriptors(second).count == 3 && second.header("Link") == nil)
        let all = Set((descriptors(first) + descriptors(second)).compactMap { $0["digest"]?.stringValue })
        #expect(all.count == count)
    }
}
