import Testing
@testable import BlobServer

@Suite struct UpstreamURLTests {
    @Test(arguments: [
        ("https://registry-1.docker.io", "https", "registry-1.docker.io", 443, "/", "registry-1.docker.io"),
        ("http://Example.COM:8080/mirror/", "http", "example.com", 8080, "/mirror/", "example.com:8080"),
        ("HTTPS://[2001:db8::1]:5000/v2?x=1#frag", "https", "2001:db8::1", 5000, "/v2?x=1", "[2001:db8::1]:5000"),
        ("http://[::1]", "http", "::1", 80, "/", "[::1]"),
        ("http://127.0.0.1:80", "http", "127.0.0.1", 80, "/", "127.0.0.1"),
        ("https://host?q", "https", "host", 443, "/?q", "host"),
    ])
    func anAbsoluteURLParsesIntoSchemeHostPortAndTarget(
        text: String, scheme: String, host: String, port: Int, target: String, hostField: String
    ) throws {
        let url = try UpstreamURL(parsing: text)
        #expect(url.scheme.rawValue == scheme)
        #expect(url.host == host)
        #expect(Int(url.port) == port)
        #expect(url.target == target)
        #expect(url.hostField == hostField)
    }

    @Test(arguments: [
        "ftp://host/", "host:80", "http://", "http://:80/", "http://host:0/", "http://host:65536/", "http://host:8o/",
        "http://[::1/", "http://[nonsense]/", "http://ho st/", "http://[::1]x/",
    ])
    func aURLThatIsNotHTTPIsRefusedNamingTheText(_ text: String) {
        #expect(throws: UpstreamURL.ParseError.self) { try UpstreamURL(parsing: text) }
        do { _ = try UpstreamURL(parsing: text) } catch { #expect(error.description.contains("'\(text)'")) }
    }

    @Test func aParseErrorNeverShowsThePassword() {
        #expect { try UpstreamURL(parsing: "http://user:hunter2@proxy:99999/") } throws: { error in
            let text = "\(error)"
            return !text.contains("hunter2") && text.contains("'http://…@proxy:99999/'")
        }
    }

    @Test func userInformationIsPercentDecoded() throws {
        let url = try UpstreamURL(parsing: "http://us%40er:p%3Ass@proxy:3128")
        #expect(url.user == "us@er")
        #expect(url.password == "p:ss")
        #expect(url.host == "proxy")
    }

    @Test(arguments: [
        ("https://host", "/v2/", "/v2/"),
        ("https://host/mirror", "/v2/x/blobs/sha256:ab", "/mirror/v2/x/blobs/sha256:ab"),
        ("https://host/mirror/", "/v2/x/tags/list?n=5&last=a", "/mirror/v2/x/tags/list?n=5&last=a"),
        ("https://host/mirror", "v2/", "/mirror/v2/"),
    ])
    func aRequestPathGoesUnderTheBasePrefix(base: String, path: String, target: String) throws {
        #expect(try UpstreamURL(parsing: base).appending(path: path).target == target)
    }

    @Test(arguments: [
        ("https://cdn.example/x?X-Amz-Signature=a%2Fb%3D&X-Amz-Date=1", "https://cdn.example/x?X-Amz-Signature=a%2Fb%3D&X-Amz-Date=1"),
        ("//other:8443/path?q=%7E", "https://other:8443/path?q=%7E"),
        ("/blobs/abc?sig=a+b", "https://registry:5000/blobs/abc?sig=a+b"),
        ("?token=1", "https://registry:5000/v2/repo/blobs/sha?token=1"),
        ("other", "https://registry:5000/v2/repo/blobs/other"),
        ("../../up", "https://registry:5000/v2/up"),
        ("/a/./b/../c", "https://registry:5000/a/c"),
        ("/path with space?q=1 2", "https://registry:5000/path%20with%20space?q=1%202"),
        ("HTTP://Mixed.Case/x", "http://mixed.case/x"),
    ])
    func aLocationResolvesAgainstTheRequestKeepingTheQueryByteForByte(location: String, expected: String) throws {
        let base = try UpstreamURL(parsing: "https://registry:5000/v2/repo/blobs/sha")
        #expect(base.resolving(location)?.description == expected)
    }

    @Test(arguments: ["mailto:x@y", "ftp://host/x", "http://user:pw@host/", "http://[bad/"])
    func aLocationThatIsNotHTTPDoesNotResolve(_ location: String) throws {
        #expect(try UpstreamURL(parsing: "https://registry/v2/").resolving(location) == nil)
    }

    @Test func queryParametersArePercentEncodedAndAppended() throws {
        let realm = try UpstreamURL(parsing: "https://auth.docker.io/token?a=1")
        let url = realm.addingQuery([("service", "registry.docker.io"), ("scope", "repository:library/alpine:pull push")])
        #expect(url.target == "/token?a=1&service=registry.docker.io&scope=repository%3Alibrary%2Falpine%3Apull%20push")
    }

    @Test func theLoggedFormHasNoQuery() throws {
        let url = try UpstreamURL(parsing: "https://cdn.example:8443/blob?X-Amz-Signature=secret")
        #expect(url.redactedDescription == "https://cdn.example:8443/blob")
    }
}
