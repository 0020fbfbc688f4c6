/// The membership list and the rules for changing it, apart from DNS and threads.
///
/// - A failed lookup keeps the last good list.
/// - A non-empty answer replaces the list at once.
/// - An empty answer (NXDOMAIN, no records, or only ourselves) empties a non-empty list only
///   when the next lookup is empty too, so one flap of DNS (a Service briefly without ready
///   endpoints) does not drop the whole cluster.
///
/// A value type, owned by whoever holds it; `PeerMembership` keeps it under its lock.
struct PeerMembershipState: Sendable, Equatable {
    /// Sorted by `SocketAddress.peerOrder`, without duplicates or ourselves.
    private(set) var members: [SocketAddress] = []
    /// Goes up by one each time `members` changes.
    private(set) var version: UInt64 = 0
    /// Empty answers in a row while `members` was not empty.
    private(set) var emptyAnswersInARow = 0

    /// Empty answers in a row that empty a non-empty list.
    static let emptyAnswersToEmpty = 2

    enum Change: Equatable {
        case unchanged
        case replaced
        /// An empty answer not yet believed.
        case emptyAnswerDeferred
        case keptAfterFailure
    }

    /// Applies one lookup's outcome: the resolved addresses, or nil when the lookup failed.
    mutating func apply(resolved addresses: [SocketAddress]?, excluding identity: LocalPeerIdentity) -> Change {
        guard let addresses else { return .keptAfterFailure }
        var unique: [SocketAddress] = []
        for address in addresses.sorted(by: SocketAddress.peerOrder) where !identity.isSelf(address) && unique.last != address {
            unique.append(address)
        }
        if unique.isEmpty && !members.isEmpty {
            emptyAnswersInARow += 1
            if emptyAnswersInARow < Self.emptyAnswersToEmpty { return .emptyAnswerDeferred }
        }
        emptyAnswersInARow = 0
        guard unique != members else { return .unchanged }
        members = unique
        version += 1
        return .replaced
    }
}
