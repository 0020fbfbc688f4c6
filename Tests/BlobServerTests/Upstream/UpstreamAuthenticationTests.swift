import Glibc
import Synchronization
import Testing
import TestSupport
@testable import BlobServer

@Suite struct UpstreamBearerAuthenticationTests {
    typealias Reply = FakeHTTPServer.Reply

    static let credentials = UpstreamCredentials(username: "puller", password: "s3cret")

    /// A registry whose token endpoint is `realmHost:port/token` and hands out `tok-<n>` for the
    /// n-th fetch, living `expiresIn` seconds; the registry accepts the tokens `accepts` allows
    /// and challenges (with `scope` when given) otherwise.
    static func registry(
        realmHost: String = "127.0.0.1", scope: String? = "repository:library/alpine:pull", expiresIn: Int = 300,
        accepts: @escaping @Sendable (_ token: String, _ request: FakeHTTPServer.Request) -> Bool = { _, _ in true }
    ) -> FakeHTTPServer.Handler {
        let fetches = Atomic<Int>(0)
        return { request in
            let port = request.header("Host")!.split(separator: ":").last!
            if request.target.hasPrefix("/token") {
                let number = fetches.add(1, ordering: .sequentiallyConsistent).oldValue
                return .text(#"{"token":"tok-\#(number)","expires_in":\#(expiresIn)}"#, headers: [("Content-Type", "application/json")])
            }
            if let authorization = request.header("Authorization"), authorization.hasPrefix("Bearer "),
               accepts(String(authorization.dropFirst(7)), request) {
                return .text("blob")
            }
            let scopePart = scope.map { #","scope="\#($0)""# } ?? ""
            let challenge = #"Bearer realm="http://\#(realmHost):\#(port)/token",service="fake registry"\#(scopePart)"#
            return .text("{}", status: 401, headers: [("WWW-Authenticate", challenge)])
        }
    }

    func tokenRequests(_ server: FakeHTTPServer) -> [FakeHTTPServer.Request] {
        server.requests.filter { $0.target.hasPrefix("/token") }
    }

    @Test func aBearerChallengeFetchesATokenWithCredentialsAndRetries() throws {
        let server = try FakeHTTPServer(Self.registry())
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters) { $0.credentials = Self.credentials }
        let (status, body) = try UpstreamTesting.fetch(client)
        #expect(status == 200 && body == Array("blob".utf8))
        #expect(server.requests.map(\.target) == [
            "/v2/library/alpine/blobs/sha256:aa",
            "/token?service=fake%20registry&scope=repository%3Alibrary%2Falpine%3Apull",
            "/v2/library/alpine/blobs/sha256:aa",
        ])
        #expect(server.requests[0].header("Authorization") == nil)
        #expect(server.requests[1].header("Authorization") == "Basic " + Base64.encode(Array("puller:s3cret".utf8)))
        #expect(server.requests[2].header("Authorization") == "Bearer tok-0")
        #expect(counters.snapshot.tokenFetches == 1)
        #expect(counters.snapshot.requestsByStatus == [200: 1])
    }

    @Test func aCachedTokenIsSentAtOnceOnLaterRequestsForTheSameRepository() throws {
        let server = try FakeHTTPServer(Self.registry())
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        _ = try UpstreamTesting.fetch(client)
        let before = server.requests.count
        _ = try UpstreamTesting.fetch(client, UpstreamTesting.get("/v2/library/alpine/manifests/3"))
        #expect(server.requests.count == before + 1, "no 401 and no token fetch")
        #expect(server.requests.last?.header("Authorization") == "Bearer tok-0")
        #expect(counters.snapshot.tokenFetches == 1)
    }

    @Test func anExpiredTokenIsFetchedAgain() throws {
        let server = try FakeHTTPServer(Self.registry(expiresIn: 1))
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        _ = try UpstreamTesting.fetch(client)
        _ = try UpstreamTesting.fetch(client)
        #expect(counters.snapshot.tokenFetches == 1, "still fresh")
        sleepBlocking(seconds: 1.0)
        _ = try UpstreamTesting.fetch(client)
        #expect(counters.snapshot.tokenFetches == 2)
        #expect(server.requests.last?.header("Authorization") == "Bearer tok-1")
    }

    @Test func aRefusedCachedTokenIsDroppedAndFetchedOnceMore() throws {
        // tok-0 works for the first request only: the registry then revokes it.
        let server = try FakeHTTPServer(Self.registry { token, request in token != "tok-0" || request.index < 3 })
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        _ = try UpstreamTesting.fetch(client)
        #expect(try UpstreamTesting.fetch(client).body == Array("blob".utf8))
        #expect(counters.snapshot.tokenFetches == 2)
        _ = try UpstreamTesting.fetch(client)
        #expect(counters.snapshot.tokenFetches == 2, "the new token is cached")
        #expect(server.requests.last?.header("Authorization") == "Bearer tok-1")
    }

    @Test func aRegistryThatRefusesAFreshTokenIsUnauthorized() throws {
        let server = try FakeHTTPServer(Self.registry { _, _ in false })
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters)
        #expect(UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }?.caseName == "unauthorized")
        #expect(counters.snapshot.tokenFetches == 1)
        #expect(counters.snapshot.requestsByStatus == [401: 1])
    }

    @Test func withoutAScopeTheRepositoryPullScopeIsAsked() throws {
        let server = try FakeHTTPServer(Self.registry(scope: nil))
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        _ = try UpstreamTesting.fetch(client, UpstreamTesting.get("/v2/team/app/blobs/sha256:bb", repository: "team/app"))
        #expect(tokenRequests(server).first?.target == "/token?service=fake%20registry&scope=repository%3Ateam%2Fapp%3Apull")
    }

    @Test func credentialsNeverGoToARealmOffTheUpstreamsDomain() throws {
        let server = try FakeHTTPServer(Self.registry(realmHost: "localhost"))
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.credentials = Self.credentials }
        #expect(try UpstreamTesting.fetch(client).status == 200)
        let token = try #require(tokenRequests(server).first)
        #expect(token.header("Host") == "localhost:\(server.port)")
        #expect(token.header("Authorization") == nil)
    }

    @Test func aTokenEndpointThatRefusesIsUnauthorized() throws {
        let registry = Self.registry()
        let server = try FakeHTTPServer { request in
            request.target.hasPrefix("/token") ? .text("denied", status: 403) : registry(request)
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        #expect(error?.caseName == "unauthorized")
        #expect(error?.description.contains("403") == true)
    }
}

@Suite struct UpstreamBasicAuthenticationTests {
    typealias Reply = FakeHTTPServer.Reply

    static func registry(expecting credentials: String) -> FakeHTTPServer.Handler {
        { request in
            request.header("Authorization") == "Basic " + Base64.encode(Array(credentials.utf8))
                ? .text("blob") : .text("", status: 401, headers: [("WWW-Authenticate", #"Basic realm="registry""#)])
        }
    }

    @Test func aBasicChallengeIsAnsweredAndBasicIsThenSentAtOnce() throws {
        let server = try FakeHTTPServer(Self.registry(expecting: "user:pw"))
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.credentials = UpstreamCredentials(username: "user", password: "pw") }
        #expect(try UpstreamTesting.fetch(client).body == Array("blob".utf8))
        #expect(server.requests.count == 2)
        #expect(try UpstreamTesting.fetch(client).status == 200)
        #expect(server.requests.count == 3, "sent at once the second time")
    }

    @Test func wrongCredentialsAreUnauthorizedAfterOneTry() throws {
        let server = try FakeHTTPServer(Self.registry(expecting: "user:right"))
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.credentials = UpstreamCredentials(username: "user", password: "wrong") }
        #expect(UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }?.caseName == "unauthorized")
        #expect(server.requests.count == 2)
    }

    @Test func withoutCredentialsA401IsUnauthorizedAtOnce() throws {
        let server = try FakeHTTPServer(Self.registry(expecting: "user:pw"))
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        let error = UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }
        #expect(error?.caseName == "unauthorized")
        #expect(error?.description.contains("no credentials") == true)
        #expect(server.requests.count == 1)
    }
}

@Suite struct UpstreamRedirectTests {
    typealias Reply = FakeHTTPServer.Reply

    @Test func aRedirectToAnotherHostCarriesNoAuthorizationAndKeepsTheQueryExact() throws {
        let signed = "/signed/blob?X-Amz-Signature=a%2Fb%3D%3D&X-Amz-Date=20240501T000000Z&x=1+2"
        let server = try FakeHTTPServer { request in
            if request.header("Host")!.hasPrefix("localhost") { return .text("from the cdn") }
            guard request.header("Authorization") != nil else {
                return .text("", status: 401, headers: [("WWW-Authenticate", "Basic realm=r")])
            }
            let port = request.header("Host")!.split(separator: ":").last!
            return .text("", status: 307, headers: [("Location", "http://localhost:\(port)\(signed)")])
        }
        defer { server.stop() }
        let counters = UpstreamCounters()
        let client = try UpstreamTesting.client(port: server.port, counters: counters) {
            $0.credentials = UpstreamCredentials(username: "u", password: "p")
        }
        let response = try client.send(UpstreamTesting.get())
        #expect(response.status == 200)
        #expect(try UpstreamTesting.body(of: response) == Array("from the cdn".utf8))
        let requests = server.requests
        #expect(requests.count == 3)
        #expect(requests[1].header("Host") == "127.0.0.1:\(server.port)")
        #expect(requests[1].header("Authorization") != nil, "the first host gets the credentials")
        #expect(requests[2].header("Host") == "localhost:\(server.port)")
        #expect(requests[2].header("Authorization") == nil, "the second host never does")
        #expect(requests[2].target == signed)
        #expect(counters.snapshot.redirects == 1)
    }

    @Test(arguments: [301, 302, 303, 307, 308])
    func aRelativeRedirectOnTheSameHostIsFollowedWithItsAuthorization(status: Int) throws {
        let server = try FakeHTTPServer { request in
            if request.target == "/final?q=1" { return .text("final") }
            if request.header("Authorization") == nil { return .text("", status: 401, headers: [("WWW-Authenticate", "Basic")]) }
            return .text("", status: status, headers: [("Location", "../final?q=1")])
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port) { $0.credentials = UpstreamCredentials(username: "u", password: "p") }
        #expect(try UpstreamTesting.fetch(client, UpstreamTesting.get("/v2/blob")).body == Array("final".utf8))
        #expect(server.requests.last?.target == "/final?q=1")
        #expect(server.requests.last?.header("Authorization") != nil)
    }

    @Test func moreThanFiveRedirectsAreMalformed() throws {
        let server = try FakeHTTPServer { request in .text("", status: 302, headers: [("Location", "/hop\(request.index)")]) }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(UpstreamTesting.error { _ = try client.send(UpstreamTesting.get()) }?.caseName == "malformed")
        #expect(server.requests.count == 6)
    }

    @Test func aBrokenBodyResumesAtTheRedirectsTarget() throws {
        let blob = pseudoRandomBytes(count: 500_000, seed: 3)
        let ranged = UpstreamTesting.rangeServer(blob, firstEnd: .reset(afterBytes: 200_000))
        let server = try FakeHTTPServer { request in
            request.target.hasPrefix("/v2/") ? .text("", status: 302, headers: [("Location", "/cdn/blob?sig=1")]) : ranged(request)
        }
        defer { server.stop() }
        let client = try UpstreamTesting.client(port: server.port)
        #expect(try UpstreamTesting.fetch(client).body == blob)
        let resumption = try #require(server.requests.last)
        #expect(resumption.target == "/cdn/blob?sig=1")
        #expect(resumption.header("Range") != nil)
        #expect(server.requests.count == 3)
    }
}
