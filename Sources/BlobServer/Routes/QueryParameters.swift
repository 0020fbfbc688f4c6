/// The decoded `key=value` pairs of a request's query string (`application/x-www-form-urlencoded`:
/// `+` is a space, `%XX` a byte). At most 32 pairs; the first of a repeated key wins.
public struct QueryParameters: Equatable, Sendable {
    public static let maxPairs = 32
    private var pairs: [(key: String, value: String)]

    /// Why a query string was refused.
    public struct Invalid: Error, Equatable {
        public let reason: String
    }

    public init(parsing query: Substring) throws(Invalid) {
        pairs = []
        for item in query.split(separator: "&") {
            guard pairs.count < Self.maxPairs else { throw Invalid(reason: "more than \(Self.maxPairs) query parameters") }
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0])
            let value = parts.count > 1 ? try Self.decode(parts[1]) : ""
            if !pairs.contains(where: { $0.key == key }) { pairs.append((key, value)) }
        }
    }

    /// The value of `key`, if present.
    public subscript(_ key: String) -> String? { pairs.first { $0.key == key }?.value }

    public static func == (lhs: QueryParameters, rhs: QueryParameters) -> Bool {
        lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    private static func decode(_ text: Substring) throws(Invalid) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexDigitValue), let low = iterator.next().flatMap(hexDigitValue) else {
                    throw Invalid(reason: "bad percent-encoding in '\(text.prefix(64))'")
                }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self), !decoded.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw Invalid(reason: "query values must be UTF-8 text without control characters")
        }
        return decoded
    }
}
