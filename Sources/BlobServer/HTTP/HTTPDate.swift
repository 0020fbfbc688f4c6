import Glibc

/// The `Date` header value (RFC 9110 §5.6.7, IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once per second: every response needs it, and formatting a date per
/// request is measurable at nginx's request rates.
///
/// Owned by one event loop's thread; not thread-safe.
struct HTTPDate {
    private var second: Int = -1
    private var cached: [UInt8] = []

    /// The 29 ASCII bytes for the second `now` falls in.
    mutating func bytes(now: time_t) -> [UInt8] {
        if now != second {
            second = now
            cached = Array(Self.format(now).utf8)
        }
        return cached
    }

    /// IMF-fixdate for `seconds` since the epoch.
    static func format(_ seconds: time_t) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
