/// Percent-encoding (RFC 3986 §2.1) for what the upstream client puts in URLs itself.
enum PercentEncoding {
    /// `value` with every byte outside the unreserved set (`A-Z a-z 0-9 - . _ ~`) encoded: a
    /// query parameter value that survives any server's parser (a token `scope` has `:` and `/`).
    static func encodeQueryValue(_ value: String) -> String {
        encode(value, keeping: isUnreserved)
    }

    /// `text` with only the bytes that cannot appear in a request line (controls, space, DEL,
    /// non-ASCII) encoded, as curl does with a `Location`; everything else, existing escapes
    /// included, stays byte for byte (signed URLs are checked byte for byte).
    static func encodeForTarget(_ text: some StringProtocol) -> String {
        guard text.utf8.contains(where: { !isTargetByte($0) }) else { return String(text) }
        return encode(text, keeping: isTargetByte)
    }

    /// `text` with the bytes `keeping` refuses written as `%XX`.
    private static func encode(_ text: some StringProtocol, keeping: (UInt8) -> Bool) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if keeping(byte) {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                appendEscape(byte, to: &encoded)
            }
        }
        return encoded
    }

    /// `text` with `%XX` escapes decoded (userinfo in a proxy URL); nil when an escape is
    /// broken or the result is not UTF-8.
    static func decode(_ text: some StringProtocol) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexDigitValue), let low = iterator.next().flatMap(hexDigitValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func isTargetByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }

    private static func appendEscape(_ byte: UInt8, to text: inout String) {
        let digits = Array("0123456789ABCDEF".utf8)
        text.unicodeScalars.append("%")
        text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
        text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
    }
}
