import Testing
@testable import BlobServer

@Suite struct UpstreamConfigurationTests {
    func field(_ configure: (inout UpstreamClient.Configuration) -> Void) -> String? {
        var configuration = UpstreamClient.Configuration(baseURL: "https://registry.example", environment: [:])
        configure(&configuration)
        do {
            _ = try UpstreamClient(configuration: configuration)
            return nil
        } catch {
            return error.field
        }
    }

    @Test func theDefaultsAreValid() {
        #expect(field { _ in } == nil)
        let defaults = UpstreamClient.Configuration(baseURL: "https://registry.example")
        #expect(defaults.tlsVerify)
        #expect(defaults.maxRetries == 3 && defaults.maxRedirects == 5 && defaults.maxResumes == 5)
        #expect(defaults.maxRetryAfterSeconds == 10)
    }

    @Test func theEnvironmentDefaultsToTheProcesss() {
        #expect(UpstreamClient.Configuration(baseURL: "https://r").environment == processEnvironment())
        #expect(UpstreamClient.Configuration(baseURL: "https://r", environment: ["A": "b"]).environment == ["A": "b"])
    }

    @Test(arguments: ["registry.example", "ftp://registry.example", "https://", "https://user:pw@registry.example", "https://registry.example/?x=1"])
    func aBadBaseURLNamesBaseURL(_ url: String) {
        #expect(field { $0.baseURL = url } == "baseURL")
    }

    @Test func eachBadNumberNamesItsField() {
        #expect(field { $0.connectTimeoutSeconds = 0 } == "connectTimeoutSeconds")
        #expect(field { $0.firstByteTimeoutSeconds = -1 } == "firstByteTimeoutSeconds")
        #expect(field { $0.idleTimeoutSeconds = .nan } == "idleTimeoutSeconds")
        #expect(field { $0.poolWaitTimeoutSeconds = .infinity } == "poolWaitTimeoutSeconds")
        #expect(field { $0.retryBackoffSeconds = -0.1 } == "retryBackoffSeconds")
        #expect(field { $0.maxRetryAfterSeconds = 100_000 } == "maxRetryAfterSeconds")
        #expect(field { $0.maxConnectionsPerOrigin = 0 } == "maxConnectionsPerOrigin")
        #expect(field { $0.maxIdleConnectionsPerOrigin = -1 } == "maxIdleConnectionsPerOrigin")
        #expect(field { $0.maxRetries = -1 } == "maxRetries")
        #expect(field { $0.maxRedirects = 50 } == "maxRedirects")
        #expect(field { $0.maxResumes = -1 } == "maxResumes")
        #expect(field { $0.caFile = "" } == "caFile")
        #expect(field { $0.environment = ["HTTPS_PROXY": "https://proxy"] } == "HTTPS_PROXY")
    }

    @Test func aProxyErrorNeverShowsThePassword() {
        #expect { try ProxySelection(environment: ["HTTPS_PROXY": "https://user:hunter2@proxy"]) } throws: { error in
            !"\(error)".contains("hunter2")
        }
        #expect { try ProxySelection(environment: ["HTTPS_PROXY": "http://user:hunter2@proxy:0"]) } throws: { error in
            !"\(error)".contains("hunter2")
        }
    }

    @Test func credentialsNeverShowTheirPassword() {
        let credentials = UpstreamCredentials(username: "robot", password: "hunter2")
        #expect("\(credentials)" == "robot:<redacted>")
        #expect(credentials.basicFieldValue == "Basic cm9ib3Q6aHVudGVyMg==")
    }

    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64EncodesAsRFC4648Says(text: String, encoded: String) {
        #expect(Base64.encode(Array(text.utf8)) == encoded)
        #expect(Base64.decode(Array(encoded.utf8)) == Array(text.utf8))
    }

    @Test func percentEncodingOfQueryValuesKeepsOnlyUnreservedBytes() {
        #expect(PercentEncoding.encodeQueryValue("repository:a/b:pull,push é") == "repository%3Aa%2Fb%3Apull%2Cpush%20%C3%A9")
        #expect(PercentEncoding.decode("a%2Fb%3a") == "a/b:")
        #expect(PercentEncoding.decode("bad%2") == nil)
    }
}
