/// One standard query (RFC 1035 §4.1): recursion desired, one question of class IN.
struct DNSQuery: Sendable, Equatable {
    let id: UInt16
    let name: DNSName
    let type: DNSRecordType

    /// A query with a random ID, so a late answer to an earlier query is not taken for this one.
    init(name: DNSName, type: DNSRecordType, id: UInt16 = .random(in: .min ... .max)) {
        self.id = id
        self.name = name
        self.type = type
    }

    /// Header flags: only RD (recursion desired).
    static let recursionDesiredFlags: UInt16 = 0x0100

    /// The message as sent on the wire.
    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + 256 + 4)
        func append(_ value: UInt16) {
            bytes.append(UInt8(value >> 8))
            bytes.append(UInt8(value & 0xFF))
        }
        append(id)
        append(Self.recursionDesiredFlags)
        append(1)  // QDCOUNT
        append(0)  // ANCOUNT
        append(0)  // NSCOUNT
        append(0)  // ARCOUNT
        bytes += name.wireBytes
        append(type.rawValue)
        append(dnsClassInternet)
        return bytes
    }
}
