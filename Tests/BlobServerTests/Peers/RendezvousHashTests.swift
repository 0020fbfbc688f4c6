import BlobStore
import Testing
@testable import BlobServer

/// Every peer must rank alike, so the hash is pinned: these values are the same on every
/// machine and every build. A change here reshuffles every cluster's ownership during a
/// rolling upgrade and must be deliberate.
@Suite struct RendezvousHashTests {
    @Test("pinned values: hashes of bytes, keys, node identities and weights")
    func pinnedValues() throws {
        let empty = [UInt8]().withUnsafeBytes { RendezvousHash.hash($0, domain: .node) }
        #expect(empty == 13402447021542585540)
        let tag = RendezvousKey("ns/name:tag").hash
        #expect(tag == 8985227683086388285)
        let digest = try Digest(parsing: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(RendezvousKey(digest: digest).hash == 17864962531390859205)
        let node = try SocketAddress(parsing: "10.1.2.3:5000")
        #expect(RendezvousRanking.weight(of: node, for: RendezvousKey(digest: digest)) == 17350088008508502704)
    }

    @Test("node identities: family, address in network order, port big-endian")
    func socketAddressBytes() throws {
        #expect(try SocketAddress(parsing: "10.1.2.3:5000").rendezvousBytes == [4, 10, 1, 2, 3, 0x13, 0x88])
        #expect(try SocketAddress(parsing: "[2001:db8::1]:443").rendezvousBytes
                == [6, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0xbb])
    }

    @Test("inputs that differ only in trailing zero bytes, or only in domain, hash apart")
    func lengthAndDomainAreHashed() {
        var seen: Set<UInt64> = []
        for length in 0...17 {
            let bytes = [UInt8](repeating: 0, count: length)
            for domain in [RendezvousHash.Domain.node, .digestKey, .stringKey] {
                #expect(seen.insert(bytes.withUnsafeBytes { RendezvousHash.hash($0, domain: domain) }).inserted)
            }
        }
    }

    @Test("a substring and a native string of the same text are the same key")
    func substringKey() {
        let text = "xx/ns/name:tag"
        #expect(RendezvousKey(text.dropFirst(3)) == RendezvousKey("ns/name:tag"))
    }
}
