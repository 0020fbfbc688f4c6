import Glibc

/// A bearer token from a registry's token endpoint (the distribution token specification):
/// `{"token": "…", "access_token": "…", "expires_in": 300, "issued_at": "2024-…Z"}`.
struct BearerToken: Equatable, Sendable {
    /// The lifetime when the endpoint gives none, as the specification says.
    static let defaultLifetime = 60.0
    /// Token documents are small; a larger answer is not a token.
    static let maxDocumentBytes = 1 << 20

    let value: String
    /// Seconds the token stays valid from now.
    let lifetime: Double

    /// Parses the endpoint's JSON with the module's own parser. `token` wins over
    /// `access_token` (the specification's compatibility field). An `issued_at` in the past
    /// shortens the lifetime by the token's age; one in the future (clock skew) is ignored.
    /// `now`: seconds since the epoch.
    static func parse(_ body: [UInt8], now: Double) throws(UpstreamError) -> BearerToken {
        let document: JSONValue
        do {
            document = try JSONParser.parse(body, limits: .init(maxBytes: maxDocumentBytes, maxValues: 1000))
        } catch {
            throw .unauthorized("the token endpoint's answer is not JSON: \(error)")
        }
        guard let value = document["token"]?.stringValue ?? document["access_token"]?.stringValue, !value.isEmpty else {
            throw .unauthorized("the token endpoint's answer has no token")
        }
        guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .unauthorized("the token endpoint's token is not visible ASCII")
        }
        var lifetime = defaultLifetime
        if case .number(let text)? = document["expires_in"], let seconds = Double(text), seconds > 0 {
            lifetime = seconds
        }
        if let issued = document["issued_at"]?.stringValue.flatMap(RFC3339Timestamp.parse), issued < now {
            lifetime = max(0, lifetime - (now - issued))
        }
        return BearerToken(value: value, lifetime: lifetime)
    }

    /// Seconds since the epoch on the wall clock, for ageing `issued_at`.
    static func wallClockNow() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
