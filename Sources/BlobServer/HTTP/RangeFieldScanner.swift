/// A cursor over the ASCII bytes of one header field value, shared by the `Range`,
/// `Content-Range` and conditional-request parsers.
///
/// It borrows `bytes`: use it only inside the scope that keeps them alive. Nothing allocates.
struct RangeFieldScanner {
    private let bytes: UnsafeRawBufferPointer
    private(set) var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { index == bytes.count }

    var peek: UInt8? { isAtEnd ? nil : bytes[index] }

    mutating func advance() { index += 1 }

    /// Skips optional whitespace: SP and HTAB (RFC 9110 §5.6.3).
    mutating func skipWhitespace() {
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard peek == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    /// Consumes `word`, compared case-insensitively. `word` is lowercase ASCII letters, so
    /// `byte | 0x20` folds only the matching upper- or lowercase letter onto it.
    mutating func consumeCaseInsensitive(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] | 0x20 != word.utf8Start[offset] {
            return false
        }
        index += count
        return true
    }

    /// Consumes `1*DIGIT`. Returns nil when no digit is next. A value that does not fit is
    /// reported as `overflowed` with `value == UInt64.max`; all its digits are consumed.
    mutating func digits() -> (value: UInt64, overflowed: Bool)? {
        guard let first = peek, Self.isDigit(first) else { return nil }
        var value: UInt64 = 0
        var overflowed = false
        while let byte = peek, Self.isDigit(byte) {
            index += 1
            guard !overflowed else { continue }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(byte &- UInt8(ascii: "0")))
            overflowed = o1 || o2
            value = overflowed ? .max : sum
        }
        return (value, overflowed)
    }

    /// The bytes from `start` up to the cursor.
    func bytes(from start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[start..<index])
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
