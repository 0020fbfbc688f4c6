import Testing
@testable import BlobServer

@Suite struct UpstreamAuthenticationChallengeTests {
    @Test func aDockerHubBearerChallengeGivesItsParameters() {
        let challenges = AuthenticationChallenge.parse(
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#)
        #expect(challenges == [AuthenticationChallenge(scheme: "bearer", parameters: [
            "realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull",
        ])])
    }

    @Test func schemesAndParameterNamesAreCaseInsensitiveAndWhitespaceIsAllowed() {
        let challenges = AuthenticationChallenge.parse(#"BEARER  Realm = "r" , SERVICE=svc"#)
        #expect(challenges == [AuthenticationChallenge(scheme: "bearer", parameters: ["realm": "r", "service": "svc"])])
    }

    @Test func quotedStringsUnescapeAndMayHoldCommasAndEquals() {
        let challenges = AuthenticationChallenge.parse(#"Bearer realm="https://a/t?x=1,y=\"2\"",scope="a\\b""#)
        #expect(challenges.first?.parameters["realm"] == #"https://a/t?x=1,y="2""#)
        #expect(challenges.first?.parameters["scope"] == #"a\b"#)
    }

    @Test func severalChallengesInOneFieldAreSeparated() {
        let challenges = AuthenticationChallenge.parse(#"Basic realm="Registry", Bearer realm="https://auth/token",service="reg", Negotiate abc==, Digest"#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer", "negotiate", "digest"])
        #expect(challenges[0].parameters == ["realm": "Registry"])
        #expect(challenges[1].parameters == ["realm": "https://auth/token", "service": "reg"])
        #expect(challenges[2].parameters.isEmpty)
    }

    @Test func theFirstOfARepeatedParameterWins() {
        #expect(AuthenticationChallenge.parse("Bearer realm=a, realm=b").first?.parameters["realm"] == "a")
    }

    @Test(arguments: ["", ",,", "   ", "=x", "\"quoted\""])
    func textWithoutAChallengeGivesNone(_ value: String) {
        #expect(AuthenticationChallenge.parse(value).isEmpty)
    }

    @Test func anUnterminatedQuotedStringKeepsWhatCameBefore() {
        let challenges = AuthenticationChallenge.parse(#"Bearer service="s",realm="unterminated"#)
        #expect(challenges.count == 1)
        #expect(challenges[0].parameters == ["service": "s"])
    }
}

@Suite struct UpstreamTokenRealmPolicyTests {
    @Test(arguments: [
        ("auth.docker.io", "registry-1.docker.io", true),
        ("registry-1.docker.io", "registry-1.docker.io", true),
        ("AUTH.Docker.IO.", "registry-1.docker.io", true),
        ("auth.docker.io", "docker.io", true),
        ("docker.io", "registry-1.docker.io", true),
        ("evil.io", "registry-1.docker.io", false),
        ("notdocker.io", "registry-1.docker.io", false),
        ("auth.docker.io.evil.com", "registry-1.docker.io", false),
        ("io", "registry-1.docker.io", false),
        ("ghcr.io", "ghcr.io", true),
        ("other.io", "ghcr.io", false),
        ("auth.example.co.uk", "registry.example.co.uk", true),
        ("auth.example.co.uk", "example.co.uk", true),
        ("evil.co.uk", "example.co.uk", false),
        ("evil.co.uk", "registry.example.co.uk", false),
        ("127.0.0.1", "127.0.0.1", true),
        ("localhost", "127.0.0.1", false),
        ("127.0.0.2", "127.0.0.1", false),
        ("localhost", "localhost", true),
        ("auth.localhost", "localhost", false),
        ("::1", "::1", true),
        ("10.0.0.1", "registry.internal", false),
    ])
    func credentialsGoOnlyToARealmOnTheUpstreamsDomain(realm: String, upstream: String, allowed: Bool) {
        #expect(TokenRealmPolicy.allowsCredentials(realmHost: realm, upstreamHost: upstream) == allowed)
    }
}
