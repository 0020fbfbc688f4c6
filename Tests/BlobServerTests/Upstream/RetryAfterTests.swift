import Glibc
import Testing
@testable import BlobServer

@Suite struct UpstreamRetryAfterTests {
    let now: time_t = 784_111_777 - 60 // one minute before Sun, 06 Nov 1994 08:49:37 GMT

    @Test(arguments: [("0", 0.0), ("1", 1.0), (" 120 ", 120.0), ("99999999999999999999999", Double.infinity)])
    func deltaSecondsAreTakenAsWritten(value: String, seconds: Double) {
        #expect(RetryAfter.seconds(value, now: now) == seconds)
    }

    @Test(arguments: ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"])
    func anHTTPDateInAnyOfItsThreeFormsIsTheTimeUntilIt(_ value: String) {
        #expect(RetryAfter.seconds(value, now: now) == 60)
    }

    @Test func aDateInThePastMeansNow() {
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: now + 3600) == 0)
    }

    @Test(arguments: ["", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT"])
    func anythingElseIsIgnored(_ value: String) {
        #expect(RetryAfter.seconds(value, now: now) == nil)
    }

    @Test func formattedDatesParseBack() {
        for seconds in [time_t(0), 784_111_777, 1_714_564_800, 4_102_444_799] {
            #expect(HTTPDate.parse(HTTPDate.format(seconds), now: seconds) == seconds)
        }
    }
}

@Suite struct UpstreamRetryPolicyTests {
    let policy = UpstreamRetryPolicy(maxRetries: 3, backoff: 0.2, maxBackoff: 1, maxRetryAfter: 10)

    @Test func retryableStatusesAre429And5xx() {
        #expect([429, 500, 502, 503, 504, 599].allSatisfy(UpstreamRetryPolicy.isRetryable(status:)))
        #expect(![200, 301, 400, 401, 404, 416].contains(where: UpstreamRetryPolicy.isRetryable(status:)))
    }

    @Test func retryAfterIsHonouredUpToTheBoundAndBeyondItFailsAtOnce() {
        #expect(policy.afterStatus(retryAfter: 1, retriesDone: 0) == .retry(afterSeconds: 1))
        #expect(policy.afterStatus(retryAfter: 10, retriesDone: 2) == .retry(afterSeconds: 10))
        #expect(policy.afterStatus(retryAfter: 11, retriesDone: 0) == .giveUp)
        #expect(policy.afterStatus(retryAfter: 1, retriesDone: 3) == .giveUp)
    }

    @Test func backoffDoublesWithJitterAndIsCapped() {
        for retries in 0..<8 {
            let full = min(1, 0.2 * Double(1 << retries))
            guard case .retry(let delay) = policy.afterTransportFailure(retriesDone: min(retries, 2)) else {
                Issue.record("no retry")
                continue
            }
            #expect(delay >= min(1, 0.2 * Double(1 << min(retries, 2))) / 2)
            let backoff = policy.backoffSeconds(retriesDone: retries)
            #expect(backoff >= full / 2 && backoff <= full)
        }
        #expect(policy.afterTransportFailure(retriesDone: 3) == .giveUp)
    }
}
