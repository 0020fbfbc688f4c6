import Testing
@testable import BlobServer

@Suite struct DNSMessageEncodingTests {
    /// The OPT record every query ends with: root, type 41, 4096 bytes, no flags, no options.
    static let opt: [UInt8] = [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]

    @Test func anAQueryIsTheHeaderWithRDOneQuestionAndAnEDNS0RecordInWireFormat() throws {
        let query = DNSQuery(name: try DNSName(parsing: "Peers.Test."), type: .a, id: 0xABCD)
        #expect(query.encoded == [
            0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            5, 0x70, 0x65, 0x65, 0x72, 0x73, 4, 0x74, 0x65, 0x73, 0x74, 0,
            0x00, 0x01, 0x00, 0x01,
        ] + Self.opt)
    }

    @Test func anAAAAQueryAsksForType28() throws {
        let query = DNSQuery(name: try DNSName(parsing: "a.b"), type: .aaaa, id: 1)
        #expect(query.encoded == [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0x61, 1, 0x62, 0, 0, 28, 0, 1] + Self.opt)
    }

    @Test func queryIDsAreRandom() throws {
        let name = try DNSName(parsing: "peers.test")
        let ids = Set((0..<64).map { _ in DNSQuery(name: name, type: .a).id })
        #expect(ids.count > 1)
    }

    @Test(arguments: ["", ".", "a..b", "a b", "-\u{0}", String(repeating: "a", count: 64) + ".test", String(repeating: "abcdefg.", count: 32) + "x"])
    func namesThatCannotBeAskedAreRejected(text: String) {
        #expect(throws: DNSError.invalidName(text)) { try DNSName(parsing: text) }
    }
}
