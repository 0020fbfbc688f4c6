/// One standard query (RFC 1035 §4.1): recursion desired, one question of class IN, and an
/// EDNS0 OPT record (RFC 6891) offering a 4096-byte UDP payload, so an answer of more peer
/// addresses fits one datagram than the classic 512 bytes hold (about 30). Servers may answer
/// with less (dnsmasq: 1232 bytes, about 75 addresses).
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
    /// The UDP payload we take, advertised in the OPT record; the client's buffer holds it.
    static let udpPayloadBytes: UInt16 = 4096
    static let optRecordType: UInt16 = 41

    /// The message as sent on the wire.
    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + 256 + 4 + 11)
        func append(_ value: UInt16) {
            bytes.append(UInt8(value >> 8))
            bytes.append(UInt8(value & 0xFF))
        }
        append(id)
        append(Self.recursionDesiredFlags)
        append(1)  // QDCOUNT
        append(0)  // ANCOUNT
        append(0)  // NSCOUNT
        append(1)  // ARCOUNT: the OPT record
        bytes += name.wireBytes
        append(type.rawValue)
        append(dnsClassInternet)
        // OPT: root name, type 41, the payload size in the class field, extended RCODE and
        // flags 0 in the TTL field, no options.
        bytes.append(0)
        append(Self.optRecordType)
        append(Self.udpPayloadBytes)
        append(0)
        append(0)
        append(0)  // RDLENGTH
        return bytes
    }
}
