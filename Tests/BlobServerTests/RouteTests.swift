import BlobStore
import Testing
@testable import BlobServer

private let hex = String(repeating: "ab", count: 32)
private let digest = try! Digest(parsing: "sha256:\(hex)")

@Suite struct Routing {
    @Test(arguments: [
        ("/v2/", Route.base),
        ("/v2", .base),
        ("/metrics", .metrics),
        ("/healthz", .healthz),
        ("/readyz", .readyz),
        ("/blobs/sha256:\(hex)", .casBlob(digest)),
        ("/v2/library/ubuntu/blobs/sha256:\(hex)", .blob(RepositoryName("library/ubuntu")!, digest)),
        ("/v2/a/b/c/blobs/uploads/", .uploads(RepositoryName("a/b/c")!)),
        ("/v2/a/blobs/uploads/0123abcd-ef", .upload(RepositoryName("a")!, session: "0123abcd-ef")),
        ("/v2/a/manifests/latest", .manifest(RepositoryName("a")!, .tag(Tag("latest")!))),
        ("/v2/a/manifests/sha256:\(hex)", .manifest(RepositoryName("a")!, .digest(digest))),
        ("/v2/a/tags/list", .tags(RepositoryName("a")!)),
        ("/v2/a/referrers/sha256:\(hex)", .referrers(RepositoryName("a")!, digest)),
        // Names may themselves contain route words.
        ("/v2/blobs/manifests/blobs/sha256:\(hex)", .blob(RepositoryName("blobs/manifests")!, digest)),
    ])
    func pathsResolveToTheirRoutes(path: String, route: Route) throws {
        #expect(try Route(path: Substring(path)) == route)
    }

    @Test(arguments: [
        ("/v2/../etc/blobs/sha256:\(hex)", OCIErrorCode.nameInvalid),
        ("/v2/a/../../blobs/sha256:\(hex)", .nameInvalid),
        ("/v2/a/%2e%2e/blobs/sha256:\(hex)", .nameInvalid),
        ("/v2/A/blobs/sha256:\(hex)", .nameInvalid),
        ("/v2/a//b/blobs/sha256:\(hex)", .nameInvalid),
        ("/v2//blobs/sha256:\(hex)", .nameInvalid),
        ("/v2/a-/blobs/sha256:\(hex)", .nameInvalid),
        ("/v2/a/blobs/sha256:\(hex.uppercased())", .digestInvalid),
        ("/v2/a/blobs/sha256:abc", .digestInvalid),
        ("/v2/a/blobs/..%2f..%2fetc", .digestInvalid),
        ("/blobs/sha256:../../etc/passwd", .digestInvalid),
        ("/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", .digestInvalid),
        ("/v2/a/blobs/uploads/../../x", .nameUnknown),
        ("/v2/a/blobs/uploads/NOT-OURS", .blobUploadUnknown),
        ("/v2/a/manifests/-bad", .manifestInvalid),
        ("/v2/a/manifests/\(String(repeating: "t", count: 129))", .manifestInvalid),
        ("/etc/passwd", .nameUnknown),
        ("/v2/a/unknown/thing", .nameUnknown),
    ])
    func hostilePathsAreRefusedWithTheRightCode(path: String, code: OCIErrorCode) {
        #expect { try Route(path: Substring(path)) } throws: { error in (error as? OCIError)?.code == code }
    }

    @Test(arguments: ["a", "a0/b1", "library/ubuntu", "a.b_c__d---e/f", "x/y/z/w"])
    func grammaticalNamesAreAccepted(_ name: String) { #expect(RepositoryName(name) != nil) }

    @Test(arguments: ["", "A", "a..b", "a___b", "_a", "a.", "a/", "/a", "a b", "a%2fb", "a:b", String(repeating: "a", count: 256)])
    func ungrammaticalNamesAreRefused(_ name: String) { #expect(RepositoryName(name) == nil) }

    @Test func tagsFollowTheirGrammar() {
        #expect(Tag("v1.2.3-rc_1") != nil)
        #expect(Tag("_x") != nil)
        #expect(Tag(String(repeating: "a", count: 128)) != nil)
        #expect(Tag(String(repeating: "a", count: 129)) == nil)
        #expect(Tag(".x") == nil)
        #expect(Tag("-x") == nil)
        #expect(Tag("a/b") == nil)
        #expect(Tag("") == nil)
    }
}

@Suite struct QueryParsing {
    @Test func valuesArePercentAndPlusDecodedAndTheFirstOfARepeatedKeyWins() throws {
        let query = try QueryParameters(parsing: "ns=docker.io&digest=sha256%3Aab&n=10&n=20&q=a+b&flag")
        #expect(query["ns"] == "docker.io")
        #expect(query["digest"] == "sha256:ab")
        #expect(query["n"] == "10")
        #expect(query["q"] == "a b")
        #expect(query["flag"] == "")
        #expect(query["missing"] == nil)
    }

    @Test(arguments: ["a=%zz", "a=%4", "a=%00", "a=%0d%0aInjected: yes", "a=%ff"])
    func badEncodingsAndControlCharactersAreRefused(_ text: String) {
        #expect(throws: QueryParameters.Invalid.self) { try QueryParameters(parsing: Substring(text)) }
    }

    @Test func moreThanThirtyTwoPairsAreRefused() {
        let many = (0..<33).map { "k\($0)=v" }.joined(separator: "&")
        #expect(throws: QueryParameters.Invalid.self) { try QueryParameters(parsing: Substring(many)) }
        #expect(throws: Never.self) { try QueryParameters(parsing: Substring((0..<32).map { "k\($0)=v" }.joined(separator: "&"))) }
    }
}

@Suite struct OCIErrorBodies {
    @Test func theBodyIsTheSpecsShapeAndParsesAsJSON() throws {
        let error = OCIError(.blobUnknown, detail: "sha256:\"x\"\n")
        #expect(error.status == 404)
        #expect(error.body == #"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:\"x\"\n"}]}"#)
        guard case .object(let root) = try JSONParser.parse(Array(error.body.utf8)) else { Issue.record("not an object"); return }
        #expect(root.first?.key == "errors")
    }

    @Test(arguments: OCIErrorCode.allCases)
    func everyCodeHasAClientErrorStatusAndAMessage(_ code: OCIErrorCode) throws {
        #expect((400..<500).contains(code.status))
        #expect(!code.message.isEmpty)
        #expect(try JSONParser.parse(Array(OCIError(code).body.utf8)) != .null)
    }
}
