/// A cursor over a received DNS message. Every read is bounds-checked and throws
/// `DNSError.malformed` instead of trapping: the bytes come from the network.
struct DNSMessageReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    /// At most this many compression pointers in one name: enough for any real message,
    /// and a hard stop for pointer loops.
    static let maximumPointerHops = 16

    /// A reader at `offset` (0: the header), which must be within `bytes` or at its end.
    init(_ bytes: [UInt8], offset: Int = 0) {
        precondition(offset >= 0 && offset <= bytes.count, "reader offset outside the message")
        self.bytes = bytes
        self.offset = offset
    }

    mutating func readUInt8() throws(DNSError) -> UInt8 {
        guard offset < bytes.count else { throw DNSError.malformed("message ends at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16() throws(DNSError) -> UInt16 {
        let high = try readUInt8()
        return UInt16(high) << 8 | UInt16(try readUInt8())
    }

    mutating func readUInt32() throws(DNSError) -> UInt32 {
        let high = try readUInt16()
        return UInt32(high) << 16 | UInt32(try readUInt16())
    }

    mutating func readBytes(_ count: Int) throws(DNSError) -> ArraySlice<UInt8> {
        guard count <= bytes.count - offset else {
            throw DNSError.malformed("\(count) bytes wanted at byte \(offset) of \(bytes.count)")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// Reads a possibly compressed name (RFC 1035 §4.1.4). The cursor moves past the name as
    /// it appears here, not past the labels a pointer leads to.
    mutating func readName() throws(DNSError) -> DNSName {
        var labels: [[UInt8]] = []
        var wireLength = 1  // the root label
        var position = offset
        var resumeOffset: Int?
        var hops = 0
        while true {
            guard position < bytes.count else { throw DNSError.malformed("name runs past the end at byte \(position)") }
            let length = Int(bytes[position])
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = resumeOffset ?? position + 1
                    return DNSName(labels: labels)
                }
                let start = position + 1
                guard length <= bytes.count - start else { throw DNSError.malformed("label runs past the end at byte \(position)") }
                wireLength += length + 1
                guard wireLength <= DNSName.maximumWireLength else { throw DNSError.malformed("name longer than 255 bytes") }
                labels.append(Array(bytes[start..<start + length]))
                position = start + length
            case 0xC0:
                guard position + 1 < bytes.count else { throw DNSError.malformed("pointer runs past the end at byte \(position)") }
                hops += 1
                guard hops <= Self.maximumPointerHops else { throw DNSError.malformed("too many compression pointers (a loop?)") }
                if resumeOffset == nil { resumeOffset = position + 2 }
                position = (length & 0x3F) << 8 | Int(bytes[position + 1])
            default:
                throw DNSError.malformed("unknown label type 0x\(String(length, radix: 16)) at byte \(position)")
            }
        }
    }
}
