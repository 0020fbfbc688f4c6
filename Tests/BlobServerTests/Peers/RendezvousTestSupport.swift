import BlobStore
import TestSupport
@testable import BlobServer

/// Members and keys for the rendezvous tests: sequential addresses (as a headless Service
/// gives them, the least random identities there are) and seeded random digests.
enum RendezvousFixtures {
    /// `10.0.x.y:5000`, `count` of them in order.
    static func members(_ count: Int) -> [SocketAddress] {
        (0..<count).map { index in
            try! SocketAddress(parsing: "10.\(index >> 16).\((index >> 8) & 0xff).\(index & 0xff):5000")
        }
    }

    /// 100,000 random sha256 digests as keys, made once for all the tests.
    static let digestKeys: [RendezvousKey] = {
        var generator = SplitMix64(state: 4)
        return (0..<100_000).map { _ in
            var words = (generator.next(), generator.next(), generator.next(), generator.next())
            return withUnsafeBytes(of: &words) { RendezvousKey(digest: Digest(algorithm: .sha256, bytes: $0)) }
        }
    }()

    /// How many of `keys` each member owns, in `ranking.members` order.
    static func ownerCounts(_ ranking: RendezvousRanking<SocketAddress>, _ keys: some Sequence<RendezvousKey>) -> [Int] {
        var counts = [Int](repeating: 0, count: ranking.members.count)
        for key in keys { counts[ranking.ownerIndex(of: key)!] += 1 }
        return counts
    }
}
