import BlobStore
import TestSupport
import Testing
@testable import BlobServer

/// Rendezvous ranking: the same answer everywhere, an even share per member, and only the keys
/// a joining or leaving member gains or loses move.
@Suite struct RendezvousRankingTests {
    /// Members and keys per statistical test: 100,000 keys, but 10,000 for 1,000 members, where
    /// 100,000 would be 10^8 weights and take seconds in a debug build. There the chi-square
    /// test over all members carries the evidence; a single member's share is noisy.
    static let sizes = [(members: 8, keys: 100_000), (members: 32, keys: 100_000), (members: 1_000, keys: 10_000)]

    @Test("the ranking does not depend on the order of the member list, and repeats count once")
    func orderIndependentAndDeduplicated() {
        let members = RendezvousFixtures.members(50)
        var generator = SplitMix64(state: 7)
        let shuffled = members.shuffled(using: &generator)
        let ranking = RendezvousRanking(members: members)
        let reordered = RendezvousRanking(members: shuffled + shuffled.prefix(10))
        #expect(reordered.members.count == 50)
        for key in RendezvousFixtures.digestKeys.prefix(1_000) {
            #expect(ranking.ranked(for: key, limit: 5) == reordered.ranked(for: key, limit: 5))
        }
    }

    @Test("ranked(for:limit:) is the members sorted by weight, cut at the limit, owner first",
          arguments: [0, 1, 3, 17, 40, 45])
    func rankedIsTheTopOfAFullSort(limit: Int) {
        let ranking = RendezvousRanking(members: RendezvousFixtures.members(40))
        for key in RendezvousFixtures.digestKeys.prefix(200) + ["library/alpine:3.20", "ns/name:tag"].map(RendezvousKey.init) {
            let sorted = ranking.members.map { (node: $0, weight: RendezvousRanking.weight(of: $0, for: key)) }
                .sorted { $0.weight > $1.weight }.map(\.node)
            let ranked = ranking.ranked(for: key, limit: limit)
            #expect(ranked == Array(sorted.prefix(limit)))
            #expect(ranking.owner(of: key) == sorted.first)
        }
    }

    @Test("ranked(excluding:) skips only the excluded member; a non-member changes nothing")
    func excludingSelf() {
        let members = RendezvousFixtures.members(20)
        let ranking = RendezvousRanking(members: members)
        let stranger = try! SocketAddress(parsing: "192.0.2.1:5000")
        for key in RendezvousFixtures.digestKeys.prefix(300) {
            let me = members[Int(key.hash % 20)]
            #expect(ranking.ranked(for: key, limit: 4, excluding: me) == ranking.ranked(for: key, limit: 5).filter { $0 != me }.prefix(4).map { $0 })
            #expect(ranking.ranked(for: key, limit: 4, excluding: stranger) == ranking.ranked(for: key, limit: 4))
        }
    }

    @Test("no members: no owner and an empty ranking")
    func empty() {
        let ranking = RendezvousRanking<SocketAddress>(members: [])
        #expect(ranking.owner(of: RendezvousKey("a")) == nil)
        #expect(ranking.ranked(for: RendezvousKey("a"), limit: 3).isEmpty)
    }

    /// Each member's share of k random keys is binomial(k, 1/n): every member must
    /// be within 5 standard deviations of its expected share (a fair hash fails this about once
    /// in 10^4 runs over all members), and the chi-square statistic must be within 5 standard
    /// deviations of its mean n-1 (too even would be as suspicious as too uneven).
    @Test("each member owns 1/n of random digests within the binomial spread", arguments: sizes)
    func balance(members count: Int, keys keyCount: Int) {
        let ranking = RendezvousRanking(members: RendezvousFixtures.members(count))
        let counts = RendezvousFixtures.ownerCounts(ranking, RendezvousFixtures.digestKeys.prefix(keyCount))
        Self.expectBalanced(counts, keys: keyCount)
    }

    @Test("each member owns 1/n of sequential tag names within the binomial spread", arguments: sizes)
    func balanceOfStringKeys(members count: Int, keys keyCount: Int) {
        let ranking = RendezvousRanking(members: RendezvousFixtures.members(count))
        let keys = (0..<keyCount).map { RendezvousKey("library/image\($0):v1") }
        Self.expectBalanced(RendezvousFixtures.ownerCounts(ranking, keys), keys: keyCount)
    }

    static func expectBalanced(_ counts: [Int], keys: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let n = Double(counts.count)
        let expected = Double(keys) / n
        let deviation = (Double(keys) * (1 / n) * (1 - 1 / n)).squareRoot()
        let worst = counts.map { abs(Double($0) - expected) }.max()!
        let chiSquare = counts.reduce(0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        let chiDeviation = (2 * (n - 1)).squareRoot()
        #expect(worst <= 5 * deviation,
                "worst member off by \(worst) keys (\(worst / deviation) sd, \(100 * worst / expected)%)", sourceLocation: sourceLocation)
        #expect(abs(chiSquare - (n - 1)) <= 5 * chiDeviation,
                "chi-square \(chiSquare) for \(n - 1) degrees of freedom", sourceLocation: sourceLocation)
    }

    @Test("a joining member takes about 1/(n+1) of the keys, all from others, none moving elsewhere", arguments: sizes)
    func joiningMovesOnlyItsKeys(members count: Int, keys keyCount: Int) {
        let keys = RendezvousFixtures.digestKeys.prefix(keyCount)
        let before = RendezvousRanking(members: RendezvousFixtures.members(count))
        let after = RendezvousRanking(members: RendezvousFixtures.members(count + 1))
        let moved = keys.map { (before.ownerIndex(of: $0)!, after.ownerIndex(of: $0)!) }.filter { $0 != $1 }
        #expect(moved.allSatisfy { $0.1 == count }, "keys moved between members that both stayed")
        Self.expectAboutOneIn(count + 1, moved: moved.count, keys: keyCount)
    }

    @Test("a leaving member's keys go to their second choice; no other key moves", arguments: sizes)
    func leavingMovesOnlyItsKeys(members count: Int, keys keyCount: Int) {
        let keys = RendezvousFixtures.digestKeys.prefix(keyCount)
        let members = RendezvousFixtures.members(count)
        let leaving = count / 2
        let before = RendezvousRanking(members: members)
        let after = RendezvousRanking(members: members.enumerated().filter { $0.offset != leaving }.map(\.element))
        var moved = 0
        for key in keys {
            let ranked = before.ranked(for: key, limit: 2)
            let owner = after.owner(of: key)
            if ranked[0] == members[leaving] {
                moved += 1
                #expect(owner == ranked[1])
            } else {
                #expect(owner == ranked[0])
            }
        }
        Self.expectAboutOneIn(count, moved: moved, keys: keyCount)
    }

    /// `moved` is binomial(keys, 1/n): within 5 standard deviations of its mean.
    static func expectAboutOneIn(_ n: Int, moved: Int, keys: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = Double(keys) / Double(n)
        let deviation = (Double(keys) / Double(n) * (1 - 1 / Double(n))).squareRoot()
        #expect(abs(Double(moved) - expected) <= 5 * deviation,
                "\(moved) keys moved, expected \(expected)", sourceLocation: sourceLocation)
    }
}
