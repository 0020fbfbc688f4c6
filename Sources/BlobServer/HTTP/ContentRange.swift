/// A `Content-Range` field value (RFC 9110 §14.4): written on 206 and 416 responses, and read
/// from OCI chunked-upload `PATCH` requests.
public enum ContentRange: Hashable, Sendable, CustomStringConvertible {
    /// `bytes first-last/completeLength`, or `bytes first-last/*` when the length is unknown.
    case bytes(ByteRange, completeLength: UInt64?)
    /// `bytes */completeLength`, sent with 416.
    case unsatisfied(completeLength: UInt64)

    /// The longest value: `bytes ` and three 20-digit numbers with their separators.
    public static let maxEncodedCount = 6 + 20 + 1 + 20 + 1 + 20

    /// Parses an upload's range. Accepts the OCI form `first-last` (distribution spec
    /// "Pushing a blob in chunks") and the RFC 9110 form `bytes first-last/length` or
    /// `/*`, with the `/…` part optional and the unit case-insensitive, plus `bytes */length`.
    /// Returns nil for anything else, including `last < first`, `last >= length`, numbers
    /// past `UInt64.max` and `last == UInt64.max`: a position that cannot be written.
    public init?(parsing value: some StringProtocol) {
        var text = String(value)
        guard let parsed = text.withUTF8({ ContentRange(parsing: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    public init?(parsing value: UnsafeRawBufferPointer) {
        var scanner = RangeFieldScanner(value)
        scanner.skipWhitespace()
        let hasUnit = scanner.consumeCaseInsensitive("bytes")
        if hasUnit {
            guard scanner.consume(" ") else { return nil }
            if scanner.consume("*") {
                guard scanner.consume("/"), let length = Self.number(&scanner), Self.isAtTrailingEnd(&scanner) else {
                    return nil
                }
                self = .unsatisfied(completeLength: length)
                return
            }
        }
        guard let first = Self.number(&scanner), scanner.consume("-"), let last = Self.number(&scanner),
              first <= last, last < .max
        else { return nil }
        var completeLength: UInt64?
        if hasUnit, scanner.consume("/"), !scanner.consume("*") {
            guard let length = Self.number(&scanner), last < length else { return nil }
            completeLength = length
        }
        guard Self.isAtTrailingEnd(&scanner) else { return nil }
        self = .bytes(ByteRange(first: first, last: last), completeLength: completeLength)
    }

    private static func number(_ scanner: inout RangeFieldScanner) -> UInt64? {
        guard let digits = scanner.digits(), !digits.overflowed else { return nil }
        return digits.value
    }

    private static func isAtTrailingEnd(_ scanner: inout RangeFieldScanner) -> Bool {
        scanner.skipWhitespace()
        return scanner.isAtEnd
    }

    public var description: String {
        var bytes: [UInt8] = []
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the value's ASCII bytes, at most `maxEncodedCount` of them.
    public func append(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: "bytes ".utf8)
        switch self {
        case .bytes(let range, let completeLength):
            Self.appendDecimal(range.first, to: &bytes)
            bytes.append(UInt8(ascii: "-"))
            Self.appendDecimal(range.last, to: &bytes)
            bytes.append(UInt8(ascii: "/"))
            if let completeLength {
                Self.appendDecimal(completeLength, to: &bytes)
            } else {
                bytes.append(UInt8(ascii: "*"))
            }
        case .unsatisfied(let completeLength):
            bytes.append(UInt8(ascii: "*"))
            bytes.append(UInt8(ascii: "/"))
            Self.appendDecimal(completeLength, to: &bytes)
        }
    }

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}
