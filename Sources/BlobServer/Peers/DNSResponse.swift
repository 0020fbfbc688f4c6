/// Reads a nameserver's answer to one `DNSQuery`: checks that it answers that query, then
/// returns the addresses of the asked type, following CNAME chains within the answer section.
/// Pure: no I/O, so every check is tested on hand-built bytes.
enum DNSResponse {
    /// The longest CNAME chain we follow; real chains are one or two links.
    static let maximumCNAMEChain = 8

    /// Header flag bits (RFC 1035 §4.1.1).
    private static let responseFlag: UInt16 = 0x8000
    private static let truncatedFlag: UInt16 = 0x0200
    private static let responseCodeNameError: UInt8 = 3

    private struct ResourceRecord {
        let owner: DNSName
        let type: UInt16
        let ttlSeconds: UInt32
        let data: ArraySlice<UInt8>
        /// Where `data` starts, for names inside it that point back into the message.
        let dataOffset: Int
    }

    /// Parses `message`. Throws for anything that is not a well-formed, matching, successful
    /// answer; NXDOMAIN is returned as `.nameDoesNotExist`.
    static func parse(_ message: [UInt8], answering query: DNSQuery) throws(DNSError) -> DNSLookupResult {
        var reader = DNSMessageReader(message)
        let id = try reader.readUInt16()
        let flags = try reader.readUInt16()
        let questionCount = try reader.readUInt16()
        let answerCount = try reader.readUInt16()
        _ = try reader.readUInt16()  // NSCOUNT: the authority section is not read.
        _ = try reader.readUInt16()  // ARCOUNT: nor the additional section.
        guard id == query.id else { throw DNSError.mismatchedID(expected: query.id, received: id) }
        // QR set and OPCODE 0 (standard query).
        guard flags & responseFlag != 0, (flags >> 11) & 0xF == 0 else { throw DNSError.notAResponse }
        guard flags & truncatedFlag == 0 else { throw DNSError.truncated }
        guard questionCount == 1 else { throw DNSError.questionMismatch }
        let questionName = try reader.readName()
        let questionType = try reader.readUInt16()
        let questionClass = try reader.readUInt16()
        guard questionName == query.name, questionType == query.type.rawValue, questionClass == dnsClassInternet else {
            throw DNSError.questionMismatch
        }
        let responseCode = UInt8(flags & 0xF)
        if responseCode == responseCodeNameError { return .nameDoesNotExist }
        guard responseCode == 0 else { throw DNSError.serverFailure(responseCode: responseCode) }

        var records: [ResourceRecord] = []
        for _ in 0..<answerCount {
            let owner = try reader.readName()
            let type = try reader.readUInt16()
            let recordClass = try reader.readUInt16()
            let ttl = try reader.readUInt32()
            let length = Int(try reader.readUInt16())
            let dataOffset = reader.offset
            let data = try reader.readBytes(length)
            if recordClass == dnsClassInternet {
                records.append(ResourceRecord(owner: owner, type: type, ttlSeconds: ttl, data: data, dataOffset: dataOffset))
            }
        }
        return .addresses(try addresses(in: records, of: query, message: message))
    }

    /// The records of the asked type owned by the end of the CNAME chain that starts at the
    /// question's name.
    private static func addresses(in records: [ResourceRecord], of query: DNSQuery, message: [UInt8]) throws(DNSError) -> [DNSAddressRecord] {
        var name = query.name
        for _ in 0...maximumCNAMEChain {
            let owned = records.filter { $0.owner == name }
            let matching = owned.filter { $0.type == query.type.rawValue }
            if !matching.isEmpty {
                var addresses: [DNSAddressRecord] = []
                for record in matching { addresses.append(try address(from: record, type: query.type)) }
                return addresses
            }
            guard let alias = owned.first(where: { $0.type == DNSRecordType.cname.rawValue }) else { return [] }
            var aliasReader = DNSMessageReader(message, offset: alias.dataOffset)
            name = try aliasReader.readName()
            guard aliasReader.offset <= alias.dataOffset + alias.data.count else {
                throw DNSError.malformed("CNAME target runs past its record")
            }
        }
        throw DNSError.cnameChainTooLong(query.name)
    }

    private static func address(from record: ResourceRecord, type: DNSRecordType) throws(DNSError) -> DNSAddressRecord {
        let data = Array(record.data)
        switch type {
        case .a:
            guard data.count == 4 else { throw DNSError.malformed("A record of \(data.count) bytes") }
            // in_addr_t holds network byte order: the wire bytes in memory order.
            let raw = data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            return DNSAddressRecord(host: .v4(raw), ttlSeconds: record.ttlSeconds)
        case .aaaa:
            guard data.count == 16 else { throw DNSError.malformed("AAAA record of \(data.count) bytes") }
            let words = data.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            return DNSAddressRecord(host: .v6(words.0, words.1), ttlSeconds: record.ttlSeconds)
        case .cname:
            throw DNSError.malformed("CNAME is not an address type")
        }
    }
}
