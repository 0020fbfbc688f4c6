/// Ranks cluster members per key by rendezvous (highest-random-weight) hashing: each member's
/// weight for a key is `RendezvousHash.weight`, and the heaviest member owns the key. Every
/// peer that sees the same members computes the same ranking, whatever the order of the list
/// (DNS answers come in any order). When a member joins or leaves, only the keys it gains or
/// loses move; no key moves between two members that both stay.
///
/// An immutable value: build one per membership change (hashing each member once) and share it
/// between threads. A query is O(members × limit) and allocates only its result.
public struct RendezvousRanking<Node: RendezvousNode>: Sendable {
    /// The members, each once, in the order given.
    public let members: [Node]
    /// `RendezvousHash.hash` of each member's bytes, in `members` order.
    private let seeds: [UInt64]

    /// Ranks `members`; a member repeated (equal `rendezvousBytes`) counts once.
    public init(members: some Sequence<Node>) {
        var unique: [Node] = []
        var seeds: [UInt64] = []
        var seen: Set<UInt64> = []
        for member in members {
            let seed = Self.seed(of: member)
            guard seen.insert(seed).inserted else { continue }
            unique.append(member)
            seeds.append(seed)
        }
        self.members = unique
        self.seeds = seeds
    }

    /// The member that owns `key`, or nil when there are no members.
    public func owner(of key: RendezvousKey) -> Node? {
        ownerIndex(of: key).map { members[$0] }
    }

    /// The owner's index in `members`, for a caller that keeps per-member state in an array.
    public func ownerIndex(of key: RendezvousKey) -> Int? {
        seeds.withUnsafeBufferPointer { heaviestIndex(in: $0, key: key.hash) }
    }

    /// The `limit` highest-ranked members for `key`, owner first.
    public func ranked(for key: RendezvousKey, limit: Int) -> [Node] {
        seeds.withUnsafeBufferPointer { heaviestIndices(in: $0, key: key.hash, limit: limit, skipping: nil) }.map { members[$0] }
    }

    /// The `limit` highest-ranked members for `key` other than `node`, for a peer that
    /// looks for others to ask (it is itself a member).
    public func ranked(for key: RendezvousKey, limit: Int, excluding node: Node) -> [Node] {
        let skipped = Self.seed(of: node)
        return seeds.withUnsafeBufferPointer { heaviestIndices(in: $0, key: key.hash, limit: limit, skipping: skipped) }
            .map { members[$0] }
    }

    /// `node`'s weight for `key`; a larger weight ranks first.
    public static func weight(of node: Node, for key: RendezvousKey) -> UInt64 {
        RendezvousHash.weight(node: seed(of: node), key: key.hash)
    }

    private static func seed(of node: Node) -> UInt64 {
        node.rendezvousBytes.withUnsafeBytes { RendezvousHash.hash($0, domain: .node) }
    }
}

// The scans below are free functions over a buffer of seeds, not generic over the node type:
// they are the whole cost of a query, and stay cheap even where generics are not specialized.

/// Weight first; the seed breaks ties, so the order never depends on the list's order.
private func outranks(_ weight: UInt64, _ seed: UInt64, _ otherWeight: UInt64, _ otherSeed: UInt64) -> Bool {
    weight != otherWeight ? weight > otherWeight : seed > otherSeed
}

/// The index of the heaviest seed for `key`.
private func heaviestIndex(in seeds: UnsafeBufferPointer<UInt64>, key: UInt64) -> Int? {
    guard !seeds.isEmpty else { return nil }
    var best = 0
    var bestWeight = RendezvousHash.weight(node: seeds[0], key: key)
    for index in 1..<seeds.count {
        let weight = RendezvousHash.weight(node: seeds[index], key: key)
        if outranks(weight, seeds[index], bestWeight, seeds[best]) {
            best = index
            bestWeight = weight
        }
    }
    return best
}

/// The indices of the `limit` heaviest seeds for `key`, heaviest first, leaving out `skipped`.
/// Keeps the best in a small sorted buffer: one pass, O(n × limit), no sort of all members.
private func heaviestIndices(in seeds: UnsafeBufferPointer<UInt64>, key: UInt64, limit: Int, skipping skipped: UInt64?) -> [Int] {
    let capacity = min(max(limit, 0), seeds.count)
    guard capacity > 0 else { return [] }
    var top: [(weight: UInt64, index: Int)] = []
    top.reserveCapacity(capacity + 1)
    for index in 0..<seeds.count where seeds[index] != skipped {
        let weight = RendezvousHash.weight(node: seeds[index], key: key)
        if top.count == capacity {
            let last = top[capacity - 1]
            guard outranks(weight, seeds[index], last.weight, seeds[last.index]) else { continue }
        }
        var position = top.count
        while position > 0, outranks(weight, seeds[index], top[position - 1].weight, seeds[top[position - 1].index]) {
            position -= 1
        }
        top.insert((weight, index), at: position)
        if top.count > capacity { top.removeLast() }
    }
    return top.map(\.index)
}
