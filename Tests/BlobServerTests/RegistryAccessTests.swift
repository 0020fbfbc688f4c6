import BlobStore
import TestSupport
import Testing
@testable import BlobServer

@Suite struct RegistryAccess {
    enum Credentials: CaseIterable { case none, token, basic }
    enum Presented: CaseIterable { case nothing, rightToken, rightBasic, wrongToken, wrongBasic, malformed }

    static let token = "s3cr3t-token"
    static let user = "ci"
    static let password = "pa:ss word"

    static func configuration(_ credentials: Credentials, anonymousPush: Bool = false, pullAuth: Bool = false) throws -> ServerConfiguration {
        var configuration = ServerConfiguration.defaults
        switch credentials {
        case .none: break
        case .token: configuration.authTokens = [token]
        case .basic: configuration.authBasic = [try BasicCredential(parsing: "\(user):\(password)")]
        }
        configuration.anonymousPush = anonymousPush
        configuration.pullAuth = pullAuth
        return configuration
    }

    static func base64(_ text: String) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        for start in stride(from: 0, to: bytes.count, by: 3) {
            let group = bytes[start..<min(start + 3, bytes.count)]
            let value = group.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for index in 0..<4 {
                out.append(index <= group.count ? table[Int(value >> (18 - 6 * UInt32(index)) & 63)] : UInt8(ascii: "="))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func header(_ presented: Presented) -> [(String, String)] {
        switch presented {
        case .nothing: []
        case .rightToken: [("Authorization", "Bearer \(token)")]
        case .rightBasic: [("Authorization", "Basic \(base64("\(user):\(password)"))")]
        case .wrongToken: [("Authorization", "Bearer s3cr3t-tokem")]
        case .wrongBasic: [("Authorization", "basic \(base64("\(user):nope"))")]
        case .malformed: [("Authorization", "Basic !!!")]
        }
    }

    /// Whether a push should pass.
    static func pushAllowed(_ credentials: Credentials, _ presented: Presented, loopback: Bool) -> Bool {
        switch credentials {
        case .none: loopback
        case .token: presented == .rightToken
        case .basic: presented == .rightBasic
        }
    }

    @Test(arguments: [true, false])
    func pushesFollowTheMatrixOfListenerCredentialsAndPresentedSecrets(loopback: Bool) throws {
        let content: [UInt8] = [1, 2, 3]
        let digest = StreamingHasher.digest(of: content)
        for credentials in Credentials.allCases {
            let fixture = try RegistryFixture(configuration: Self.configuration(credentials))
            for presented in Presented.allCases {
                let answer = fixture.send(.put, "/blobs/\(digest)", headers: Self.header(presented), body: content, loopback: loopback)
                let allowed = Self.pushAllowed(credentials, presented, loopback: loopback)
                #expect((answer.status != 401) == allowed, "\(credentials) \(presented) loopback=\(loopback): \(answer.status)")
                if !allowed {
                    #expect(answer.errorCode == "UNAUTHORIZED")
                    let challenges = answer.headers("WWW-Authenticate")
                    #expect(challenges == (credentials == .token ? [#"Bearer realm="blobcache""#] : [#"Basic realm="blobcache""#]))
                }
                // Pulls stay open whatever is presented.
                #expect(fixture.send(.get, "/blobs/\(digest)", headers: Self.header(presented), loopback: loopback).status != 401)
            }
        }
    }

    @Test func everyWriteRouteNeedsTheCredential() throws {
        let fixture = try RegistryFixture(configuration: Self.configuration(.token))
        let digest = StreamingHasher.digest(of: [1])
        for (method, target) in [
            (HTTPMethod.post, "/v2/app/blobs/uploads/"), (.get, "/v2/app/blobs/uploads/0123"), (.patch, "/v2/app/blobs/uploads/0123"),
            (.put, "/v2/app/manifests/v1"), (.delete, "/v2/app/manifests/v1"), (.delete, "/v2/app/blobs/\(digest)"),
            (.delete, "/blobs/\(digest)"),
        ] {
            #expect(fixture.send(method, target, body: [1]).status == 401, "\(method) \(target)")
        }
        for target in ["/healthz", "/readyz", "/metrics", "/v2/", "/v2/app/tags/list", "/v2/app/manifests/v1"] {
            #expect(fixture.send(.get, target).status != 401, "\(target)")
        }
    }

    @Test func anonymousPushOpensWritesOnAnyListenerWhenNoCredentialIsConfigured() throws {
        let fixture = try RegistryFixture(configuration: Self.configuration(.none, anonymousPush: true))
        #expect(fixture.send(.post, "/v2/app/blobs/uploads/", loopback: false).status == 202)
        let withToken = try RegistryFixture(configuration: Self.configuration(.token, anonymousPush: true))
        #expect(withToken.send(.post, "/v2/app/blobs/uploads/", loopback: false).status == 401)
    }

    @Test func pullAuthClosesPullsButNotProbes() throws {
        let fixture = try RegistryFixture(configuration: Self.configuration(.basic, pullAuth: true))
        let digest = StreamingHasher.digest(of: [1])
        for target in ["/v2/", "/v2/app/blobs/\(digest)", "/v2/app/tags/list", "/v2/app/referrers/\(digest)", "/blobs/\(digest)"] {
            #expect(fixture.send(.get, target).status == 401, "\(target)")
            #expect(fixture.send(.get, target, headers: Self.header(.rightBasic)).status != 401, "\(target)")
        }
        for target in ["/healthz", "/readyz", "/metrics"] { #expect(fixture.send(.get, target).status == 200) }
        // Without a configured credential there is nothing to check pulls against.
        let open = try RegistryFixture(configuration: Self.configuration(.none, pullAuth: true))
        #expect(open.send(.get, "/v2/", loopback: false).status == 200)
    }

    @Test func theBaseEndpointChecksAPresentedCredentialForDockerLogin() throws {
        let fixture = try RegistryFixture(configuration: Self.configuration(.basic))
        #expect(fixture.send(.get, "/v2/").status == 200)
        #expect(fixture.send(.get, "/v2/", headers: Self.header(.rightBasic)).status == 200)
        let wrong = fixture.send(.get, "/v2/", headers: Self.header(.wrongBasic))
        #expect(wrong.status == 401 && wrong.header("Docker-Distribution-API-Version") == "registry/2.0")
    }

    @Test func bothSchemesAreChallengedWhenBothAreConfigured() throws {
        var configuration = try Self.configuration(.token)
        configuration.authBasic = [try BasicCredential(parsing: "a:b")]
        let fixture = try RegistryFixture(configuration: configuration)
        let answer = fixture.send(.post, "/v2/app/blobs/uploads/")
        #expect(answer.headers("WWW-Authenticate") == [#"Basic realm="blobcache""#, #"Bearer realm="blobcache""#])
        #expect(fixture.send(.post, "/v2/app/blobs/uploads/", headers: [("Authorization", "Basic \(Self.base64("a:b"))")]).status == 202)
        #expect(fixture.send(.post, "/v2/app/blobs/uploads/", headers: Self.header(.rightToken)).status == 202)
    }

    @Test func constantTimeEqualityComparesWholeValues() {
        let secret = Array("abcdef".utf8)
        #expect(AccessPolicy.constantTimeEquals(secret, secret[...]))
        #expect(!AccessPolicy.constantTimeEquals(secret, Array("abcdeg".utf8)[...]))
        #expect(!AccessPolicy.constantTimeEquals(secret, Array("abcde".utf8)[...]))
        #expect(!AccessPolicy.constantTimeEquals(secret, Array("abcdefg".utf8)[...]))
        #expect(!AccessPolicy.constantTimeEquals(secret, [][...]))
        #expect(AccessPolicy.constantTimeEquals([], [][...]))
    }
}

@Suite struct RegistryBase64 {
    @Test(arguments: [
        ("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYg==", "foob"), ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"), ("Zg", "f"), ("Zm8", "fo"), ("dXNlcjpwYTpzcyB3b3Jk", "user:pa:ss word"),
    ])
    func decodesTheRFC4648Vectors(encoded: String, decoded: String) {
        #expect(Base64.decode(Array(encoded.utf8)) == Array(decoded.utf8))
    }

    @Test(arguments: ["Z", "Zm9vY", "Z===", "Zg=a", "Zm9v!", "Zg==Zg==", "Zm 9v", "Zm8=="])
    func refusesWhatNoEncoderWrites(encoded: String) {
        #expect(Base64.decode(Array(encoded.utf8)) == nil)
    }
}
