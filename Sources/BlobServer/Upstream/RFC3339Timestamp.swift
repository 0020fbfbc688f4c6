import Glibc

/// RFC 3339 timestamps (`2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.123456789+02:00`), as
/// token endpoints write `issued_at`.
enum RFC3339Timestamp {
    /// Seconds since the epoch, or nil when `text` is not a timestamp.
    static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func byte(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }
        guard let year = number(0, 4), byte(4) == UInt8(ascii: "-"), let month = number(5, 2), byte(7) == UInt8(ascii: "-"),
            let day = number(8, 2), byte(10) == UInt8(ascii: "T") || byte(10) == UInt8(ascii: "t"),
            let hour = number(11, 2), byte(13) == UInt8(ascii: ":"), let minute = number(14, 2), byte(16) == UInt8(ascii: ":"),
            let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var at = 19
        var fraction = 0.0
        if byte(at) == UInt8(ascii: ".") {
            at += 1
            var scale = 0.1
            let start = at
            while let digit = byte(at), digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") {
                fraction += Double(digit - UInt8(ascii: "0")) * scale
                scale /= 10
                at += 1
            }
            guard at > start else { return nil }
        }
        var offset = 0
        switch byte(at) {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            at += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let hours = number(at + 1, 2), byte(at + 3) == UInt8(ascii: ":"), let minutes = number(at + 4, 2) else { return nil }
            offset = (hours * 3600 + minutes * 60) * (byte(at) == UInt8(ascii: "+") ? 1 : -1)
            at += 6
        default:
            return nil
        }
        guard at == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts) - offset) + fraction
    }
}
