import Testing
@testable import BlobServer

@Suite struct UpstreamProxySelectionTests {
    func origin(_ text: String) throws -> UpstreamOrigin { try UpstreamURL(parsing: text).origin }

    @Test func eachSchemeUsesItsOwnVariable() throws {
        let proxies = try ProxySelection(environment: ["HTTPS_PROXY": "http://secure:3128", "HTTP_PROXY": "plain:8080"])
        #expect(proxies.route(for: try origin("https://registry"))?.host == "secure")
        #expect(proxies.route(for: try origin("https://registry"))?.port == 3128)
        #expect(proxies.route(for: try origin("http://registry"))?.host == "plain")
        #expect(proxies.route(for: try origin("http://registry"))?.port == 8080)
    }

    @Test func theLowercaseVariableWinsAndEmptyMeansNone() throws {
        let proxies = try ProxySelection(environment: [
            "HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2", "HTTP_PROXY": "http://upper:3", "http_proxy": "",
        ])
        #expect(proxies.route(for: try origin("https://registry"))?.host == "lower")
        #expect(proxies.route(for: try origin("http://registry")) == nil)
    }

    @Test func aProxyWithoutPortIsOn1080AndCredentialsBecomeBasic() throws {
        let proxies = try ProxySelection(environment: ["https_proxy": "http://user:pa%20ss@proxy.local"])
        let route = try #require(proxies.route(for: try origin("https://registry")))
        #expect(route.port == 1080)
        #expect(route.authorization == "Basic " + Base64.encode(Array("user:pa ss".utf8)))
    }

    @Test(arguments: [
        ("*", "https://anything.example", false),
        ("example.com", "https://example.com", false),
        ("example.com", "https://registry.example.com", false),
        (".example.com", "https://example.com", false),
        (".example.com", "https://deep.registry.example.com", false),
        ("example.com", "https://notexample.com", true),
        ("Example.COM.", "https://registry.example.com", false),
        ("registry:5000", "https://registry:5000", false),
        ("registry:5000", "https://registry:443", true),
        ("10.0.0.1", "https://10.0.0.1", false),
        ("10.0.0.1", "https://10.0.0.10", true),
        ("[::1]:8443", "https://[::1]:8443", false),
        ("::1", "https://[::1]", false),
        ("a.test, b.test  c.test", "https://c.test", false),
        ("a.test,,b.test", "https://other.test", true),
        ("registry:x", "https://registry", true),
    ])
    func noProxyEntriesBypassTheProxyForMatchingOrigins(noProxy: String, url: String, proxied: Bool) throws {
        let proxies = try ProxySelection(environment: ["HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": noProxy])
        #expect((proxies.route(for: try origin(url)) != nil) == proxied)
    }

    @Test func theLowercaseNoProxyWins() throws {
        let proxies = try ProxySelection(environment: ["HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "a.test", "no_proxy": "b.test"])
        #expect(proxies.route(for: try origin("https://a.test")) != nil)
        #expect(proxies.route(for: try origin("https://b.test")) == nil)
    }

    @Test(arguments: [("HTTPS_PROXY", "https://proxy:443"), ("http_proxy", "socks5://proxy:1080"), ("HTTP_PROXY", "http://:3128")])
    func anUnusableProxyIsRefusedNamingTheVariable(variable: String, value: String) {
        #expect { try ProxySelection(environment: [variable: value]) } throws: { error in
            (error as? UpstreamConfigurationError)?.field == variable
        }
    }
}
