import Glibc

/// The byte-level grammar of RFC 9110 §5.6 shared by the head parser and the header
/// fields: character classes, ASCII case folding, OWS trimming and list splitting. All of
/// it works on raw bytes so that no String is made per header.
enum HTTPParseSyntax {
    // Computed rather than stored: a stored static is a lazy global, checked on every use.
    static var cr: UInt8 { 0x0D }
    static var lf: UInt8 { 0x0A }
    static var space: UInt8 { 0x20 }
    static var tab: UInt8 { 0x09 }
    static var colon: UInt8 { 0x3A }

    /// tchar: the characters of a method or a header name, as a bitmap of bytes 0–127
    /// (`!#$%&'*+-.^_`|~`, digits, letters).
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        let low: UInt64 = 0x03FF_6CFA_0000_0000
        let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        return byte < 64 ? (low >> byte) & 1 == 1 : byte < 128 && (high >> (byte - 64)) & 1 == 1
    }

    /// A field-value byte: VCHAR, obs-text, SP or HTAB; every control character but HTAB is out.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == tab
    }

    /// The offset of the first byte of `bytes[from..<to]` that is not a field-value byte.
    /// Eight bytes at a time: values are most of a head.
    static func firstNonFieldValueByte(in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var i = start
        while end - i >= 8 {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if !hasByte(in: word, below: 0x20) && !hasByte(in: word, equalTo: 0x7F) {
                i += 8
                continue
            }
            for j in i..<(i + 8) where !isFieldValueByte(bytes[j]) { return j }
            i += 8
        }
        while i < end {
            if !isFieldValueByte(bytes[i]) { return i }
            i += 1
        }
        return nil
    }

    /// The offset of the first byte of `bytes[from..<to]` outside visible ASCII (0x21–0x7E).
    static func firstNonVisibleByte(in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var i = start
        while end - i >= 8 {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if word & 0x8080_8080_8080_8080 == 0 && !hasByte(in: word, below: 0x21) && !hasByte(in: word, equalTo: 0x7F) {
                i += 8
                continue
            }
            break
        }
        while i < end {
            if bytes[i] <= 0x20 || bytes[i] >= 0x7F { return i }
            i += 1
        }
        return nil
    }

    /// Whether any byte of `word` is below `limit` (at most 128): the classic SWAR test,
    /// exact for "any" though not for "which".
    @inline(__always)
    private static func hasByte(in word: UInt64, below limit: UInt8) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        return (word &- ones &* UInt64(limit)) & ~word & (ones &* 0x80) != 0
    }

    @inline(__always)
    private static func hasByte(in word: UInt64, equalTo byte: UInt8) -> Bool {
        hasByte(in: word ^ (0x0101_0101_0101_0101 &* UInt64(byte)), below: 1)
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// The error for a byte that is out of place: NUL and CR get their own errors because
    /// they are the ones used to confuse other parsers.
    static func error(for byte: UInt8, otherwise: HTTPParseError) -> HTTPParseError {
        switch byte {
        case 0: .nulCharacter
        case cr: .bareCarriageReturn
        default: otherwise
        }
    }

    /// The offset of the first `byte` in `bytes[from...]`, found with memchr.
    @inline(__always)
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let hit = memchr(base + start, Int32(byte), bytes.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Whether `bytes` equals `name` ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == name.count else { return false }
        for i in 0..<bytes.count where lowercased(bytes[i]) != lowercased(name[i]) {
            return false
        }
        return true
    }

    /// Whether `bytes` equals `name` ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        name.withUTF8Buffer { equalsIgnoringCase(bytes, $0) }
    }

    /// `bytes` without optional whitespace (SP and HTAB) at either end.
    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end && isWhitespace(bytes[start]) { start += 1 }
        while end > start && isWhitespace(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Calls `body` with each element of a comma-separated list, trimmed; empty elements
    /// are skipped, as RFC 9110 §5.6.1 asks of recipients.
    static func forEachListElement<E: Error>(
        _ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        var start = 0
        while start <= value.count {
            let end = firstIndex(of: UInt8(ascii: ","), in: value, from: start) ?? value.count
            let element = trimmed(UnsafeRawBufferPointer(rebasing: value[start..<end]))
            if !element.isEmpty { try body(element) }
            start = end + 1
        }
    }
}
