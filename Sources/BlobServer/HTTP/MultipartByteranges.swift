/// The plan of a `multipart/byteranges` body (RFC 9110 §14.6) for several ranges of one blob,
/// without its bytes: literal part headers to write, and blob ranges to `sendfile` between them.
///
/// The body is, for each range, `\r\n--B\r\nContent-Type: T\r\nContent-Range: bytes a-b/size\r\n\r\n`
/// then the range's bytes, and finally `\r\n--B--\r\n`. The leading CRLF makes an empty
/// preamble, which RFC 2046 §5.1.1 allows and which lets every delimiter look the same.
///
/// A boundary must not occur in the body (RFC 2046 §5.1.1). The plan cannot check that without
/// reading the blob, so the caller picks one no blob contains by chance: a per-process random
/// value plus a counter, say, not a constant.
public struct MultipartByteranges: Hashable, Sendable {
    public enum Part: Hashable, Sendable {
        /// Bytes to write as they are.
        case literal([UInt8])
        /// The blob's bytes at `first...last`: `sendfile` from offset `first`, `count` bytes.
        case blob(ByteRange)

        public var count: UInt64 {
            switch self {
            case .literal(let bytes): UInt64(bytes.count)
            case .blob(let range): range.count
            }
        }
    }

    public enum PlanError: Error, Hashable, Sendable {
        /// Not 1 to 70 characters of RFC 2046's `bchars`, or ending in a space.
        case invalidBoundary
        /// Empty, or holding a byte other than SP, HTAB or visible ASCII: it could split the
        /// part header.
        case invalidContentType
    }

    /// The response's `Content-Type`: `multipart/byteranges; boundary=…`, quoted when needed.
    public let contentType: String
    /// The body's exact length in bytes: the sum of the parts' counts.
    public let contentLength: UInt64
    /// The body in order. About 100 bytes of literal per range, and `RangeHeader.maxRanges`
    /// bounds the ranges, so a plan stays small.
    public let parts: [Part]

    /// - Parameters:
    ///   - ranges: at least one range, each within `size`, in the order to send them.
    ///   - contentType: the blob's media type for each part, or nil to send none.
    public init(ranges: [ByteRange], size: UInt64, contentType: String?, boundary: String) throws(PlanError) {
        precondition(!ranges.isEmpty, "a multipart body needs a range")
        precondition(ranges.allSatisfy { $0.last < size }, "ranges must lie within the blob")
        guard Self.isValidBoundary(boundary) else { throw .invalidBoundary }
        if let contentType {
            guard !contentType.isEmpty, contentType.utf8.allSatisfy(Self.isFieldValueByte) else {
                throw .invalidContentType
            }
        }

        let needsQuotes = boundary.utf8.contains { !Self.isTokenByte($0) }
        self.contentType = "multipart/byteranges; boundary=" + (needsQuotes ? "\"\(boundary)\"" : boundary)

        var parts: [Part] = []
        parts.reserveCapacity(ranges.count * 2 + 1)
        for range in ranges {
            var head: [UInt8] = []
            head.append(contentsOf: "\r\n--\(boundary)\r\n".utf8)
            if let contentType {
                head.append(contentsOf: "Content-Type: \(contentType)\r\n".utf8)
            }
            head.append(contentsOf: "Content-Range: ".utf8)
            ContentRange.bytes(range, completeLength: size).append(to: &head)
            head.append(contentsOf: "\r\n\r\n".utf8)
            parts.append(.literal(head))
            parts.append(.blob(range))
        }
        parts.append(.literal(Array("\r\n--\(boundary)--\r\n".utf8)))
        self.parts = parts
        self.contentLength = parts.reduce(0) { $0 + $1.count }
    }

    /// RFC 2046 §5.1.1: `0*69<bchars> bcharsnospace`.
    public static func isValidBoundary(_ boundary: String) -> Bool {
        let bytes = boundary.utf8
        guard (1...70).contains(bytes.count), bytes.last != UInt8(ascii: " ") else { return false }
        return bytes.allSatisfy { $0 == UInt8(ascii: " ") || isBoundaryByteOtherThanSpace($0) }
    }

    /// `bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?"`
    private static func isBoundaryByteOtherThanSpace(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || "'()+_,-./:=?".utf8.contains(byte)
    }

    /// `tchar` (RFC 9110 §5.6.2): a parameter value made only of these needs no quotes.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        RangeFieldScanner.isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
    }

    private static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte < 0x7F)
    }
}
