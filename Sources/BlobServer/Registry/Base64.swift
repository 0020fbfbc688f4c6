/// Decodes standard base64 (RFC 4648 §4), as Basic credentials carry it (RFC 7617).
enum Base64 {
    /// The bytes `text` encodes, or nil when it is not base64: a byte outside the alphabet,
    /// padding anywhere but the end, or a length no encoder produces. Padding may be left out.
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 4 * 3 + 2)
        var accumulator: UInt32 = 0
        var pending = 0
        var padding = 0
        for character in text {
            if character == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0, let value = sextet(character) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            pending += 1
            if pending == 4 {
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                bytes.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator = 0
                pending = 0
            }
        }
        // A final group of 2 or 3 characters carries 1 or 2 bytes; its padding, if any, fills it to 4.
        switch pending {
        case 0 where padding == 0:
            break
        case 2 where padding == 0 || padding == 2:
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> 4))
        case 3 where padding == 0 || padding == 1:
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> 10))
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> 2))
        default:
            return nil
        }
        return bytes
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
