import Synchronization
import Testing
@testable import BlobServer

@Suite struct UpstreamBearerTokenTests {
    func parse(_ json: String, now: Double = 1_700_000_000) throws -> BearerToken {
        try BearerToken.parse(Array(json.utf8), now: now)
    }

    @Test func tokenWinsOverAccessTokenAndExpiresInIsTheLifetime() throws {
        #expect(try parse(#"{"token":"t1","access_token":"a1","expires_in":300}"#) == BearerToken(value: "t1", lifetime: 300))
        #expect(try parse(#"{"access_token":"a1"}"#) == BearerToken(value: "a1", lifetime: 60))
    }

    @Test func issuedAtInThePastShortensTheLifetimeAndInTheFutureIsIgnored() throws {
        let now = try #require(RFC3339Timestamp.parse("2024-05-01T12:01:40Z"))
        #expect(try parse(#"{"token":"t","expires_in":300,"issued_at":"2024-05-01T12:00:00Z"}"#, now: now).lifetime == 200)
        #expect(try parse(#"{"token":"t","expires_in":300,"issued_at":"2024-05-01T13:00:00Z"}"#, now: now).lifetime == 300)
        #expect(try parse(#"{"token":"t","expires_in":60,"issued_at":"2024-05-01T11:00:00Z"}"#, now: now).lifetime == 0)
    }

    @Test(arguments: [#"{"expires_in":60}"#, #"{"token":""}"#, "not json", #"{"token":"a b"}"#, #"{"token":5}"#])
    func anAnswerWithoutAUsableTokenIsUnauthorized(_ json: String) {
        #expect { try parse(json) } throws: { error in
            if case .unauthorized? = error as? UpstreamError { true } else { false }
        }
    }

    @Test(arguments: [
        ("2024-05-01T12:00:00Z", 1_714_564_800.0),
        ("2024-05-01t12:00:00z", 1_714_564_800.0),
        ("2024-05-01T14:00:00+02:00", 1_714_564_800.0),
        ("2024-05-01T11:30:00-00:30", 1_714_564_800.0),
        ("2024-05-01T12:00:00.5Z", 1_714_564_800.5),
        ("2024-05-01T12:00:00.123456789Z", 1_714_564_800.123456789),
    ])
    func rfc3339TimestampsParse(text: String, seconds: Double) {
        #expect(abs((RFC3339Timestamp.parse(text) ?? 0) - seconds) < 1e-6)
    }

    @Test(arguments: ["2024-05-01 12:00:00Z", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00Zjunk", ""])
    func notATimestampIsNil(_ text: String) {
        #expect(RFC3339Timestamp.parse(text) == nil)
    }
}

@Suite struct UpstreamBearerTokenCacheTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let seconds = Mutex(1000.0)
        func advance(_ delta: Double) { seconds.withLock { $0 += delta } }
        var now: Double { seconds.withLock { $0 } }
    }

    let key = BearerTokenCache.Key(realm: "https://auth/token", service: "registry", scope: "repository:a:pull")

    @Test func aTokenIsFoundByRepositoryUntilItsLifetimeLessTheMargin() {
        let clock = ManualClock()
        let cache = BearerTokenCache(clock: { clock.now })
        cache.store(BearerToken(value: "t", lifetime: 300), for: key, repository: "a")
        #expect(cache.token(forRepository: "a") == "t")
        #expect(cache.token(forRepository: "b") == nil)
        clock.advance(289)
        #expect(cache.token(forRepository: "a") == "t")
        clock.advance(2)
        #expect(cache.token(forRepository: "a") == nil, "300 s tokens are reused for 290 s")
    }

    @Test func theMarginIsATenthOfTheLifetimeAtMostTenSeconds() {
        #expect(BearerTokenCache.reuseSeconds(lifetime: 1) == 0.9)
        #expect(BearerTokenCache.reuseSeconds(lifetime: 60) == 54)
        #expect(BearerTokenCache.reuseSeconds(lifetime: 3600) == 3590)
    }

    @Test func aRefusedTokenIsDroppedForItsKeyAndItsRepository() {
        let cache = BearerTokenCache(clock: { 0 })
        cache.store(BearerToken(value: "t", lifetime: 300), for: key, repository: "a")
        cache.store(BearerToken(value: "t", lifetime: 300), for: key, repository: "b")
        cache.remove(key, repository: "a")
        #expect(cache.token(forRepository: "a") == nil)
        #expect(cache.token(forRepository: "b") == nil, "b shared the refused token")
    }

    @Test func aTokenWithNoLifetimeLeftIsNotCached() {
        let cache = BearerTokenCache(clock: { 0 })
        cache.store(BearerToken(value: "t", lifetime: 0), for: key, repository: "a")
        #expect(cache.token(forRepository: "a") == nil)
    }
}
