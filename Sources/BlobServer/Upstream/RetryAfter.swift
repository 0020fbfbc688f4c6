import Glibc

/// The `Retry-After` field (RFC 9110 §10.2.3): how long a 429 or 503 asks the client to wait.
enum RetryAfter {
    /// Seconds to wait from `now`: delta-seconds as written, an HTTP-date less `now` (0 when
    /// past). A delta too large for an integer waits forever. Nil when the value is neither.
    static func seconds(_ value: String, now: time_t) -> Double? {
        let text = value.trimmingASCIIWhitespace
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return Int(text).map(Double.init) ?? .infinity
        }
        guard let date = HTTPDate.parse(text, now: now) else { return nil }
        return Double(max(0, date - now))
    }
}
